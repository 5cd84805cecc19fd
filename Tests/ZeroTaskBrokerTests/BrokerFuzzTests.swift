import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A real `zerotask broker` process fed random and mutated messages on its request socket from
/// a seeded generator (`ZEROTASK_FUZZ_SEED=N` replays a run; the seed is printed). It must
/// answer every message it answers with a JSON-RPC response, stay up, keep its resident size
/// flat, and serve the seed flow correctly afterwards.
@Suite(.serialized) struct BrokerFuzzTests {
    /// A fixed seed, so a failure in CI replays as it is; `ZEROTASK_FUZZ_SEED=N` picks another
    /// and `ZEROTASK_FUZZ_SEED=random` a fresh one (printed) for exploring by hand.
    static func seed() -> UInt64 {
        switch ProcessInfo.processInfo.environment["ZEROTASK_FUZZ_SEED"] {
        case "random": UInt64.random(in: 1...UInt64.max)
        case let s?: UInt64(s) ?? defaultSeed
        case nil: defaultSeed
        }
    }

    static let defaultSeed: UInt64 = 0x5EED_19


    /// `count`, or `ZEROTASK_FUZZ_COUNT` for a longer run by hand.
    static func count(_ count: Int) -> Int {
        ProcessInfo.processInfo.environment["ZEROTASK_FUZZ_COUNT"].flatMap { Int($0) } ?? count
    }

    /// One DEALER keeping a few hundred messages in flight: a sentinel request after every 100
    /// messages, and at most 4 sentinels unanswered (the broker answers one peer in order).
    final class Fuzzer {
        let socket: ZMQSocket
        var generator: FuzzMessageGenerator
        private(set) var sent = 0, replies = 0
        /// Replies that were not JSON-RPC responses (the first few, for the failure message).
        private(set) var malformed: [String] = []
        private var sentinelsSent = 0, lastSentinelSeen = -1
        private let deadline: Date

        init(endpoint: String, context: ZMQContext, seed: UInt64, seconds: Double) throws {
            socket = try ZMQSocket(context, .dealer)
            try socket.setLinger(milliseconds: 0)
            try socket.connect(endpoint)
            generator = FuzzMessageGenerator(seed: seed)
            deadline = Date().addingTimeInterval(seconds)
        }

        /// Sends `count` generated messages and waits until the broker has read them all.
        func run(_ count: Int) throws {
            for i in 0..<count {
                _ = try socket.send(frames: generator.next())
                sent += 1
                if i % 100 == 99 {
                    try sendSentinel()
                    try waitForSentinel(sentinelsSent - 5)
                } else if i % 16 == 0 {
                    try drain(milliseconds: 0)
                }
            }
            try sendSentinel()
            try waitForSentinel(sentinelsSent - 1)
        }

        private func sendSentinel() throws {
            let body = #"{"jsonrpc":"2.0","method":"zerotask.broker.client_task_status","params":["fz-sentinel","x"],"id":"zs-\#(sentinelsSent)"}"#
            _ = try socket.send(Array(body.utf8))
            sentinelsSent += 1
        }

        private func waitForSentinel(_ n: Int) throws {
            while lastSentinelSeen < n {
                guard Date() < deadline else {
                    throw TimedOut(what: "the broker to answer sentinel \(n) after \(sent) fuzz messages")
                }
                try drain(milliseconds: 100)
            }
        }

        private func drain(milliseconds: Int) throws {
            var poller = ZMQPoller()
            poller.add(socket)
            guard try poller.poll(timeoutMilliseconds: milliseconds)[0].contains(.readable) else { return }
            while let frames = try socket.receiveFrames(dontWait: true) { check(frames.last ?? []) }
        }

        private func check(_ body: [UInt8]) {
            replies += 1
            func isResponse(_ v: JSONValue) -> Bool { v["jsonrpc"] == "2.0" && Response(json: v) != nil }
            let ok: Bool
            switch try? JSONValue.parse(body) {
            case nil: ok = false
            case .null?: ok = true  // a REQ-style peer's notification
            case .array(let a)?: ok = !a.isEmpty && a.allSatisfy(isResponse)
            case let v?:
                ok = isResponse(v)
                if case .string(let s)? = v["id"], s.hasPrefix("zs-"), let n = Int(s.dropFirst(3)) {
                    lastSentinelSeen = max(lastSentinelSeen, n)
                }
            }
            if !ok && malformed.count < 5 { malformed.append(String(decoding: body.prefix(300), as: UTF8.self)) }
        }
    }

    /// The seed flow, positional, from fresh connections.
    static func seedFlow(_ endpoint: String, context: ZMQContext, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let client = try TestPeer(endpoint: endpoint, context: context)
        let node = try TestPeer(endpoint: endpoint, context: context)
        #expect(try client.result("client_connect", ["after-fuzz"]) == "after-fuzz", sourceLocation: sourceLocation)
        #expect(try node.result("node_connect", ["fz-final"]) == "fz-final", sourceLocation: sourceLocation)
        #expect(try node.result("node_advertise", ["fz-final", ["fz.add"]]) == true, sourceLocation: sourceLocation)
        let tid = try client.result("client_new_task", ["after-fuzz", "fz.add", [2, 3]])
        #expect(try client.result("client_task_status", ["after-fuzz", tid]) == .int(1000), sourceLocation: sourceLocation)
        let assignment = try node.result("node_task_request", [tid])
        #expect(assignment["method"] == "fz.add" && assignment["params"] == [2, 3] && assignment["id"] == tid,
            "\(assignment)", sourceLocation: sourceLocation)
        #expect(try node.result("task_status", ["fz-final", tid, 5000]) == true, sourceLocation: sourceLocation)
        #expect(try node.result("node_task_finished", [tid, 5]) == true, sourceLocation: sourceLocation)
        #expect(try client.result("client_task_status", ["after-fuzz", tid]) == .int(7000), sourceLocation: sourceLocation)
        #expect(try client.result("client_task_result", ["after-fuzz", tid]) == 5, sourceLocation: sourceLocation)
        #expect(try node.result("node_disconnect", []) == true, sourceLocation: sourceLocation)
        #expect(try client.result("client_disconnect", ["after-fuzz"]) == true, sourceLocation: sourceLocation)
    }

    /// Starts a broker process, fuzzes it (`warmUp` messages, then `count` more between the two
    /// memory readings), and checks it.
    static func fuzz(store: [String], warmUp: Int, count: Int, name: String) throws {
        let seed = Self.seed()
        print("fuzz \(name): seed \(seed) (ZEROTASK_FUZZ_SEED=\(seed) replays it)")
        // Few queued tasks and short-lived results: what valid requests among the garbage create
        // stays small, so a growing resident size can only be a leak. Ports the broker picks
        // itself and reports: nothing can take them in between.
        let broker = try ChildProcess(Binaries.zerotask, [
            "broker", "--request", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", "--max-queued", "500", "--result-ttl", "2",
        ] + store)
        defer { broker.stop() }
        let request = try listeningEndpoints(of: broker).request
        let context = ZMQContext()
        let probe = try TestPeer(endpoint: request, context: context, .dealer)
        // Fuzzing a broker that never started would measure nothing.
        try #require(try eventually(30) {
            try probe.sendRaw(Request(method: "zerotask.broker.stats", params: .none, id: 0).json.jsonBytes)
            return (try? probe.receiveRaw(seconds: 0.5)) != nil
        }, "the broker did not start:\n\(broker.output)")

        let started = Date()
        let fuzzer = try Fuzzer(endpoint: request, context: context, seed: seed, seconds: 600)
        try fuzzer.run(warmUp)
        let before = BrokerMemoryTests.residentBytes(broker.pid)
        try fuzzer.run(Self.count(count))
        let after = BrokerMemoryTests.residentBytes(broker.pid)
        let seconds = Date().timeIntervalSince(started)
        print("fuzz \(name): seed \(seed), \(fuzzer.sent) messages, \(fuzzer.replies) replies in \(Int(seconds)) s; "
            + "broker resident \(before >> 10) KiB after \(warmUp), \(after >> 10) KiB after \(fuzzer.sent)")

        // What the valid requests among the garbage did: proof the fuzz reached past the parser.
        let stats = try TestPeer(endpoint: request, context: context).call("stats").outcome
        print("fuzz \(name): broker stats afterwards: \((try? stats.get()).map { "\($0)" } ?? "\(stats)")")
        #expect(((try? stats.get())?["submitted_total"]?.int64Value ?? 0) > 0, "seed \(seed): no generated task was ever accepted")

        #expect(broker.isRunning, "seed \(seed): the broker died:\n\(broker.output.suffix(3000))")
        #expect(fuzzer.malformed.isEmpty, "seed \(seed): replies that are not JSON-RPC responses: \(fuzzer.malformed)")
        #expect(before > 0)
        #expect(after - before < 16 << 20, "seed \(seed): resident size grew from \(before >> 20) MiB to \(after >> 20) MiB")
        try seedFlow(request, context: context)
        #expect(broker.isRunning)
    }

    @Test func aMemoryBrokerTakes100kFuzzedMessagesAndServesCorrectlyAfterwards() throws {
        try Self.fuzz(store: ["--store", "memory"], warmUp: 20_000, count: 100_000, name: "memory")
    }

    @Test func aSQLiteBrokerTakesFuzzedMessagesAndServesCorrectlyAfterwards() throws {
        let dir = FixturePlugins.temporaryDirectory("zt-fuzz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.fuzz(store: ["--store", "sqlite:\(dir)/fuzz.sqlite", "--store-sync", "normal"], warmUp: 5_000, count: 50_000,
            name: "sqlite")
    }
}
