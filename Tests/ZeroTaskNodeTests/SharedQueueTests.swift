#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Several real `zerotask broker` processes on one real PostgreSQL database (issue 16), with
/// real nodes: a task submitted to any broker runs on a node of any broker, every broker answers
/// for every task, and a broker that dies or freezes loses nothing and overwrites nothing.
@Suite(.serialized) struct SharedQueueTests {
    typealias Pipeline = BrokerRestartTests.Pipeline
    static let client = "loader"
    static let context = ZMQContext()

    /// A folder with the test plugins and a `runs` folder for `nt.tally`.
    struct Bench {
        let dir: String
        let plugins: String
        let runs: String
        let url: String

        /// On `server`'s database (the suite's shared server unless a test needs its own).
        init(server: PostgresServer? = nil) throws {
            dir = FixturePlugins.temporaryDirectory("zt-shared")
            plugins = dir + "/plugins"
            runs = dir + "/runs"
            for d in [plugins, runs] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            try FixturePlugins.compile("nodetest", from: NodeHarness.fixtures, into: plugins)
            url = try (server ?? PostgresServer.shared.get()).createDatabase("zt_shared")
        }

        /// How many times `nt.tally` ran task `i`.
        func runs(of i: Int) -> Int { (try? FileManager.default.attributesOfItem(atPath: "\(runs)/\(i)")[.size] as? Int) ?? 0 }
    }

    /// A broker on the shared database, once it answers.
    static func broker(_ bench: Bench, id: String, timeout: Double = 3) throws -> (process: ChildProcess, request: String) {
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let b = try ChildProcess(Binaries.zerotask, [
            "broker", "--store", bench.url, "--request", request, "--publish", publish, "--http", "off",
            "--broker-id", id, "--broker-timeout", "\(timeout)", "--node-timeout", "30",
        ])
        let probe = try Pipeline(context, request)
        let sent = try probe.send("stats", [])
        let answered = try eventually(30) { try probe.receive(milliseconds: 50).contains { $0.id == .int(sent) } || !b.isRunning }
        guard answered, b.isRunning else { throw TimedOut(what: "broker \(id) to start:\n\(b.output)") }
        return (b, request)
    }

    /// A node of the brokers listed (the first, then the others when it stops answering).
    static func node(_ bench: Bench, id: String, brokers: [String], workers: Int = 2) throws -> ChildProcess {
        try ChildProcess(Binaries.zerotask, [
            "node", "--broker", brokers.joined(separator: ","), "--plugins", bench.plugins, "--node-id", id,
            "--workers", "\(workers)", "--heartbeat-interval", "1", "--http", "off", "--log-level", "info",
        ])
    }

    /// Whether the broker at `request` lists a node serving `method`.
    static func serves(_ request: String, _ method: String, node: String) throws -> Bool {
        let p = try Pipeline(context, request)
        let out = try p.run([("methods", [])], seconds: 10)[0]
        let list = (try? out?.get())?.arrayValue ?? []
        return list.contains { $0["name"] == .string(method) && ($0["nodes"]?.arrayValue ?? []).contains(.string(node)) }
    }

    static func tally(_ bench: Bench, _ i: Int) -> (String, JSONValue) {
        ("client_new_task", ["client_id": .string(client), "method": "nt.tally", "params": [.string(bench.runs), .int(Int64(i))],
            "task_id": .string("t\(i)")])
    }

    /// Waits until every task has a result at `request`; returns them by task id.
    static func results(at request: String, ids: [String], seconds: Double = 120, on pipeline: Pipeline? = nil) throws -> [String: JSONValue] {
        let p = try pipeline ?? Pipeline(context, request)
        if pipeline == nil { _ = try p.run([("client_connect", [.string(client)])]) }
        var results: [String: JSONValue] = [:]
        _ = try eventually(seconds) {
            let pending = ids.filter { results[$0] == nil }
            for chunk in stride(from: 0, to: pending.count, by: 500) {
                let part = pending[chunk..<min(chunk + 500, pending.count)].map { JSONValue.string($0) }
                let got = try p.run([("client_wait_results", [.string(client), .array(part), 1.0])])[0]
                for entry in (try? got?.get())?.arrayValue ?? [] {
                    if let id = entry["task_id"]?.stringValue, entry["status"] != .int(TaskStatus.queued.rawValue) { results[id] = entry }
                }
            }
            return results.count == ids.count
        }
        return results
    }

    @Test func aTaskSubmittedToOneBrokerRunsOnTheOthersNodeAndBothAnswerForIt() throws {
        let bench = try Bench()
        defer { try? FileManager.default.removeItem(atPath: bench.dir) }
        let a = try Self.broker(bench, id: "a"), b = try Self.broker(bench, id: "b")
        defer { a.process.stop(); b.process.stop() }
        // The only node is B's: whatever A takes must run there.
        let node = try Self.node(bench, id: "nb", brokers: [b.request])
        defer { node.stop() }
        #expect(try eventually(30) { try Self.serves(b.request, "nt.tally", node: "nb") }, "\(node.output)")

        let total = 300
        let loader = try Pipeline(Self.context, a.request)
        _ = try loader.run([("client_connect", [.string(Self.client)])])
        let acks = try loader.run((0..<total).map { Self.tally(bench, $0) })
        for i in 0..<total { #expect(acks[i] == .success(.string("\(Self.client)-t\(i)")), "t\(i)") }

        let ids = (0..<total).map { "\(Self.client)-t\($0)" }
        // A answers with what ran on B's node, and so does B, which never saw the submissions.
        let checker = try Pipeline(Self.context, b.request)
        _ = try checker.run([("client_connect", [.string(Self.client)])])
        for (request, pipeline) in [(a.request, loader), (b.request, checker)] {
            let results = try Self.results(at: request, ids: ids, on: pipeline)
            #expect(results.count == total, "\(request): \(total - results.count) without a result")
            for i in 0..<total {
                let r = results["\(Self.client)-t\(i)"]
                #expect(r?["status"] == .int(TaskStatus.finished.rawValue) && r?["result"] == .int(Int64(2 * i)), "t\(i) at \(request): \(String(describing: r))")
            }
        }
        let status = try checker.run([("client_task_status", [.string(Self.client), .string(ids[7])])])[0]
        #expect(status == .success(.int(TaskStatus.finished.rawValue)))
        #expect((0..<total).allSatisfy { bench.runs(of: $0) == 1 }, "every task ran once")
        // A resend to the other broker is the same task, not a new one.
        let again = try checker.run([Self.tally(bench, 5)])[0]
        #expect(again == .success(.string(ids[5])) || (try? again?.get()) == nil, "\(String(describing: again))")
        #expect(bench.runs(of: 5) == 1)
    }

    @Test func aBrokerKilledMidLoadLosesNoAnsweredTaskAndItsNodesTasksRunAgainElsewhere() throws {
        let bench = try Bench()
        defer { try? FileManager.default.removeItem(atPath: bench.dir) }
        let a = try Self.broker(bench, id: "a"), b = try Self.broker(bench, id: "b")
        defer { a.process.stop(); b.process.stop() }
        let na = try Self.node(bench, id: "na", brokers: [a.request, b.request])
        let nb = try Self.node(bench, id: "nb", brokers: [b.request, a.request])
        defer { na.stop(); nb.stop() }
        #expect(try eventually(30) { try Self.serves(a.request, "nt.tally", node: "na") && Self.serves(b.request, "nt.tally", node: "nb") })

        // Submissions to A, 200 in flight; A is killed once a third are answered.
        let total = 2000
        let loader = try Pipeline(Self.context, a.request)
        _ = try loader.run([("client_connect", [.string(Self.client)])])
        var acknowledged = Set<Int>()
        var byID: [Int64: Int] = [:]
        var next = 0
        var killedAt: Date?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if killedAt == nil {
                while byID.count < 200, next < total {
                    byID[try loader.send(Self.tally(bench, next).0, Self.tally(bench, next).1)] = next
                    next += 1
                }
            }
            for r in try loader.receive(milliseconds: 20) {
                guard case .int(let id) = r.id, let i = byID.removeValue(forKey: id) else { continue }
                #expect(r.outcome == .success(.string("\(Self.client)-t\(i)")), "task \(i)")
                acknowledged.insert(i)
            }
            if killedAt == nil, acknowledged.count >= total / 3 {
                a.process.signal(SIGKILL)
                killedAt = Date()
            }
            if let k = killedAt, Date().timeIntervalSince(k) > 1 { break }
        }
        #expect(killedAt != nil && acknowledged.count < total)
        #expect(a.process.waitForExit(seconds: 10) != nil)

        // The client fails over to B and sends again what got no answer, with the same ids.
        let failover = try Pipeline(Self.context, b.request)
        _ = try failover.run([("client_connect", [.string(Self.client)])])
        let rest = (0..<total).filter { !acknowledged.contains($0) }
        // A resend is the same task: its id comes back, or, when it has finished meanwhile (its
        // params are gone, so nothing can be compared), -32020 "is taken", which clients read as
        // "the task is there" (ZeroTaskClient.isTaken). The results below show which it was.
        let resent = try failover.run(rest.map { Self.tally(bench, $0) })
        var takenAsFinished: [String] = []
        for (k, i) in rest.enumerated() {
            let id = "\(Self.client)-t\(i)"
            if case .failure(let e) = resent[k], e.code == ErrorCode.invalidTaskID.rawValue, e.message.hasSuffix("is taken") {
                takenAsFinished.append(id)
            } else {
                #expect(resent[k] == .success(.string(id)), "resend t\(i): \(String(describing: resent[k]))")
            }
        }
        if !takenAsFinished.isEmpty {
            let early = try Self.results(at: b.request, ids: takenAsFinished, on: failover)
            for id in takenAsFinished {
                #expect(early[id]?["status"] == .int(TaskStatus.finished.rawValue), "\(id) refused as taken but not finished: \(String(describing: early[id]))")
            }
        }

        // Every task finishes once with its one right result, read from B, within a deadline
        // that covers broker_timeout: A's claims are rescued, and run on a node of B.
        let ids = (0..<total).map { "\(Self.client)-t\($0)" }
        let results = try Self.results(at: b.request, ids: ids)
        #expect(results.count == total, "\(total - results.count) tasks unfinished")
        for i in 0..<total {
            let r = results["\(Self.client)-t\(i)"]
            #expect(r?["status"] == .int(TaskStatus.finished.rawValue) && r?["result"] == .int(Int64(2 * i)), "t\(i): \(String(describing: r))")
        }
        // At least once: a task running on A's node when A died may have run twice, never zero times.
        let never = (0..<total).filter { bench.runs(of: $0) == 0 }
        #expect(never.isEmpty, "never ran: \(never.prefix(20))")
        #expect(b.process.output.contains("back in the shared queue") || (0..<total).allSatisfy { bench.runs(of: $0) >= 1 })
    }

    @Test func aBrokerStoppedPastBrokerTimeoutGivesUpItsClaimsAndItsStaleReportsChangeNothing() throws {
        let bench = try Bench()
        defer { try? FileManager.default.removeItem(atPath: bench.dir) }
        let a = try Self.broker(bench, id: "a", timeout: 2), b = try Self.broker(bench, id: "b", timeout: 2)
        defer { a.process.stop(); b.process.stop() }
        // A's node stays with A (no failover), so its reports can only reach A.
        let na = try Self.node(bench, id: "na", brokers: [a.request], workers: 4)
        let nb = try Self.node(bench, id: "nb", brokers: [b.request], workers: 4)
        defer { na.stop(); nb.stop() }
        #expect(try eventually(30) { try Self.serves(a.request, "nt.slowpid", node: "na") && Self.serves(b.request, "nt.slowpid", node: "nb") })

        // Slow tasks whose result is the worker's pid: a stale report would be another result.
        let total = 24
        let loader = try Pipeline(Self.context, a.request)
        _ = try loader.run([("client_connect", [.string(Self.client)])])
        let acks = try loader.run((0..<total).map { i in
            ("client_new_task", ["client_id": .string(Self.client), "method": "nt.slowpid", "params": [1500], "task_id": .string("s\(i)")])
        })
        #expect(acks.values.allSatisfy { (try? $0.get()) != nil })
        // Once A's node runs some of them, A freezes for three times broker_timeout.
        let busy = try eventually(30) {
            let infos = try loader.run((0..<total).map { ("client_task_info", [.string(Self.client), .string("\(Self.client)-s\($0)")]) })
            return infos.values.contains { r in
                guard let info = try? r.get() else { return false }
                return info["node_id"] == "na" && [TaskStatus.assigned, .running].map { .int($0.rawValue) }.contains(info["status"])
            }
        }
        #expect(busy, "A's node started some of the tasks")
        a.process.signal(SIGSTOP)
        Thread.sleep(forTimeInterval: 6)
        a.process.signal(SIGCONT)

        let ids = (0..<total).map { "\(Self.client)-s\($0)" }
        let atB = try Self.results(at: b.request, ids: ids)
        let atA = try Self.results(at: a.request, ids: ids, on: loader)
        #expect(atB.count == total && atA.count == total)
        // One result per task, the same wherever it is read: A's late ones were refused.
        for id in ids {
            #expect(atB[id]?["status"] == .int(TaskStatus.finished.rawValue), "\(id) at B: \(String(describing: atB[id]))")
            #expect(atA[id]?["result"] == atB[id]?["result"], "\(id): A says \(String(describing: atA[id])), B says \(String(describing: atB[id]))")
        }
        #expect(a.process.output.contains("was presumed dead"), "A heard that it was presumed dead:\n\(a.process.output.suffix(2000))")
    }

    @Test func aPostgreSQLRestartMidLoadLeavesBothBrokersServingAndLosesNothing() throws {
        // A server of its own: the shared one must not restart under the other tests.
        let pg = try PostgresServer()
        let bench = try Bench(server: pg)
        defer { try? FileManager.default.removeItem(atPath: bench.dir) }
        let a = try Self.broker(bench, id: "a"), b = try Self.broker(bench, id: "b")
        defer { a.process.stop(); b.process.stop() }
        let na = try Self.node(bench, id: "na", brokers: [a.request, b.request])
        let nb = try Self.node(bench, id: "nb", brokers: [b.request, a.request])
        defer { na.stop(); nb.stop() }
        #expect(try eventually(30) { try Self.serves(a.request, "nt.tally", node: "na") && Self.serves(b.request, "nt.tally", node: "nb") })

        // Clients on both brokers; the server restarts while the second half is being sent.
        let half = 300
        let loaders = try [a.request, b.request].map { try Pipeline(Self.context, $0) }
        for l in loaders { _ = try l.run([("client_connect", [.string(Self.client)])]) }
        func load(_ range: Range<Int>, on l: Pipeline) throws {
            let acks = try l.run(range.map { Self.tally(bench, $0) }, seconds: 180)
            for (k, i) in range.enumerated() {
                #expect(acks[k] == .success(.string("\(Self.client)-t\(i)")), "t\(i): \(String(describing: acks[k]))")
            }
        }
        try load(0..<half, on: loaders[0])
        try load(half..<2 * half, on: loaders[1])
        let restarted = Thread { try? pg.restart() }
        restarted.start()
        try load(2 * half..<3 * half, on: loaders[0])
        try load(3 * half..<4 * half, on: loaders[1])
        #expect(try eventually(120) { pg.pid != nil })

        // Every task finishes once with its right result, and both brokers answer for all.
        let total = 4 * half
        let ids = (0..<total).map { "\(Self.client)-t\($0)" }
        for (request, l) in zip([a.request, b.request], loaders) {
            let results = try Self.results(at: request, ids: ids, on: l)
            #expect(results.count == total, "\(request): \(total - results.count) without a result")
            for i in 0..<total {
                let r = results["\(Self.client)-t\(i)"]
                #expect(r?["status"] == .int(TaskStatus.finished.rawValue) && r?["result"] == .int(Int64(2 * i)), "t\(i) at \(request): \(String(describing: r))")
            }
        }
        let never = (0..<total).filter { bench.runs(of: $0) == 0 }
        #expect(never.isEmpty, "never ran: \(never.prefix(20))")
        #expect(a.process.isRunning && b.process.isRunning)
        #expect((a.process.output + b.process.output).contains("written again after"), "a broker noticed the restart")
    }
}
