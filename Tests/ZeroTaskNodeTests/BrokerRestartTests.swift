#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A real `zerotask broker` on a SQLite file, killed with SIGKILL in the middle of a load and
/// started again on the same file and ports, with a real node serving throughout.
@Suite struct BrokerRestartTests {
    static let client = "loader"

    /// A DEALER that keeps many requests in flight and matches replies by id.
    final class Pipeline {
        let socket: ZMQSocket
        var nextID: Int64 = 1

        init(_ context: ZMQContext, _ endpoint: String) throws {
            socket = try ZMQSocket(context, .dealer)
            try socket.setLinger(milliseconds: 0)
            try socket.connect(endpoint)
        }

        func send(_ method: String, _ params: JSONValue) throws -> Int64 {
            let id = nextID
            nextID += 1
            let r = Request(method: "zerotask.broker." + method, params: Params(json: params)!, id: .int(id))
            try socket.send(r.json.jsonBytes)
            return id
        }

        /// The responses that arrive within `milliseconds`.
        func receive(milliseconds: Int) throws -> [Response] {
            var poller = ZMQPoller()
            poller.add(socket)
            guard try poller.poll(timeoutMilliseconds: milliseconds)[0].contains(.readable) else { return [] }
            var out: [Response] = []
            while let frames = try socket.receiveFrames(dontWait: true) {
                if let body = frames.last, let json = try? JSONValue.parse(body), let r = Response(json: json) { out.append(r) }
            }
            return out
        }

        /// Sends every request, `window` at a time, and returns each one's outcome by index.
        func run(_ requests: [(String, JSONValue)], window: Int = 200, seconds: Double = 60)
            throws -> [Int: Result<JSONValue, RPCError>]
        {
            var byID: [Int64: Int] = [:]
            var out: [Int: Result<JSONValue, RPCError>] = [:]
            var next = 0
            let deadline = Date().addingTimeInterval(seconds)
            while out.count < requests.count {
                guard Date() < deadline else { throw TimedOut(what: "\(requests.count - out.count) replies") }
                while byID.count < window, next < requests.count {
                    byID[try send(requests[next].0, requests[next].1)] = next
                    next += 1
                }
                for r in try receive(milliseconds: 50) {
                    if case .int(let id) = r.id, let i = byID.removeValue(forKey: id) { out[i] = r.outcome }
                }
            }
            return out
        }
    }

    @Test func aBrokerKilledMidLoadKeepsEveryAnsweredTaskAndFinishesEachOnce() throws {
        let total = 3000
        let context = ZMQContext()
        let dir = FixturePlugins.temporaryDirectory("zt-restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plugins = dir + "/plugins"
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FixturePlugins.compile("nodetest", from: NodeHarness.fixtures, into: plugins)
        // nt.tally leaves one byte in runs/N per execution of task N.
        let runs = dir + "/runs"
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        let request = try unusedEndpoint(), publish = try unusedEndpoint()

        func startBroker() throws -> ChildProcess {
            // The ports were just released by the killed broker: retry while it cannot bind.
            for _ in 0..<50 {
                let b = try ChildProcess(Binaries.zerotask, [
                    "broker", "--store", "sqlite:\(dir)/broker.sqlite", "--request", request, "--publish", publish,
                    "--node-timeout", "10",
                ])
                let probe = try Pipeline(context, request)
                let id = try probe.send("stats", [])
                let answered = try eventually(10) { try probe.receive(milliseconds: 50).contains { $0.id == .int(id) } || !b.isRunning }
                if answered && b.isRunning { return b }
                b.stop()
                Thread.sleep(forTimeInterval: 0.2)
            }
            throw TimedOut(what: "the broker to start on \(request)")
        }

        var broker = try startBroker()
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", request, "--broker-publish", publish, "--plugins", plugins, "--node-id", "n1",
            "--workers", "2", "--log-level", "info",
        ])
        defer { node.stop() }

        let loader = try Pipeline(context, request)
        #expect(try loader.run([("client_connect", [.string(Self.client)])])[0] == .success(.string(Self.client)))

        // Submit with 200 in flight; kill the broker once a third are acknowledged.
        func submission(_ i: Int) -> (String, JSONValue) {
            ("client_new_task", ["client_id": .string(Self.client), "method": "nt.tally", "params": [.string(runs), .int(Int64(i))],
                "task_id": .string("t\(i)")])
        }
        var acknowledged = Set<Int>()
        var byID: [Int64: Int] = [:]
        var next = 0
        var killedAt: Date?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if killedAt == nil {
                while byID.count < 200, next < total {
                    byID[try loader.send(submission(next).0, submission(next).1)] = next
                    next += 1
                }
            }
            for r in try loader.receive(milliseconds: 20) {
                guard case .int(let id) = r.id, let i = byID.removeValue(forKey: id) else { continue }
                #expect(r.outcome == .success(.string("\(Self.client)-t\(i)")), "task \(i)")
                acknowledged.insert(i)
            }
            if killedAt == nil, acknowledged.count >= total / 3 {
                broker.signal(SIGKILL)
                killedAt = Date()
            }
            // Replies already on their way when the broker died still count: collect them.
            if let k = killedAt, Date().timeIntervalSince(k) > 1 { break }
        }
        #expect(killedAt != nil, "the broker was killed mid-load")
        #expect(broker.waitForExit(seconds: 10) != nil)
        #expect(acknowledged.count < total, "some submissions were still unanswered at the kill")

        broker = try startBroker()
        defer { broker.stop() }
        // The client carries on with its id: every acknowledged task is there.
        let checker = try Pipeline(context, request)
        let acked = acknowledged.sorted()
        let statuses = try checker.run(acked.map { ("client_task_status", [.string(Self.client), .string("\(Self.client)-t\($0)")]) })
        let missing = acked.enumerated().filter { if case .failure = statuses[$0.offset]! { true } else { false } }.map(\.element)
        #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(20))")

        // Unanswered submissions are sent again: each is either new or already stored (-32020 taken).
        let rest = (0..<total).filter { !acknowledged.contains($0) }
        let resent = try checker.run(rest.map(submission))
        for (k, i) in rest.enumerated() {
            switch resent[k]! {
            case .success(let v): #expect(v == .string("\(Self.client)-t\(i)"))
            case .failure(let e): #expect(e.code == ErrorCode.invalidTaskID.rawValue && e.message.contains("taken"), "\(e)")
            }
        }

        // All run on the node that was there before the restart, each to its one right result.
        let ids: [JSONValue] = (0..<total).map { .string("\(Self.client)-t\($0)") }
        var results: [String: JSONValue] = [:]
        let finishedAll = try eventually(120) {
            let pending = ids.filter { results[$0.stringValue!] == nil }
            for chunk in stride(from: 0, to: pending.count, by: 500) {
                let part = Array(pending[chunk..<min(chunk + 500, pending.count)])
                let got = try checker.run([("client_wait_results", [.string(Self.client), .array(part)])])[0]
                for entry in (try? got?.get())?.arrayValue ?? [] {
                    if let id = entry["task_id"]?.stringValue { results[id] = entry }
                }
            }
            return results.count == total
        }
        #expect(finishedAll, "\(total - results.count) tasks unfinished; node output:\n\(node.output.suffix(3000))")
        for i in 0..<total {
            guard let entry = results["\(Self.client)-t\(i)"] else { continue }
            #expect(entry["status"] == .int(TaskStatus.finished.rawValue) && entry["result"] == .int(Int64(2 * i)), "t\(i): \(entry)")
        }
        // Each finished once: no task failed (none was lost with a node and retried to exhaustion)...
        let stats = try checker.run([("stats", [])])[0]
        #expect((try? stats?.get())?["failed"] == .int(0), "\(String(describing: stats))")
        // ...and each ran once: a task run again after the restart (requeued instead of kept for
        // the node that held it) would leave two bytes.
        let counts = (0..<total).map { (try? FileManager.default.attributesOfItem(atPath: "\(runs)/\($0)")[.size] as? Int) ?? 0 }
        let twice = counts.indices.filter { counts[$0] != 1 }
        #expect(twice.isEmpty, "tasks not run exactly once: \(twice.prefix(20).map { "t\($0): \(counts[$0])" })")
        #expect(node.isRunning, "the node carried on across the restart")
    }
}
