import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The broker's HTTP side (`--http`) on a real built-in node: `/metrics` and `/health` fetched
/// over real connections while real tasks run, fail and are cancelled.
@Suite(.timeLimit(.minutes(10))) struct BrokerHTTPTests {
    typealias Node = BuiltInBrokerTests.BuiltInNode

    /// A loopback `http://` address on a port nothing listens on.
    static func unusedHTTP() throws -> String { try unusedEndpoint().replacingOccurrences(of: "tcp://", with: "http://") }

    /// Fetches `/metrics` until every series has its value (30 s at most, else the test fails
    /// showing the page); returns the last page.
    static func metrics(_ base: String, reach expected: [String: Double],
        sourceLocation: SourceLocation = #_sourceLocation) throws -> String
    {
        var page = ""
        let met = try eventually(30) {
            let reply = try HTTPProbe.get(base + "/metrics")
            page = reply.status == 200 ? reply.body : ""
            return expected.allSatisfy { HTTPProbe.sample(page, $0.key) == $0.value }
        }
        #expect(met, "\(page)", sourceLocation: sourceLocation)
        return page
    }

    @Test func metricsCountTasksAsTheyRunFailAndAreCancelled() throws {
        let http = try Self.unusedHTTP()
        let n = try Node()
        try n.start(workers: 1, extra: ["--http", http])
        #expect(try HTTPProbe.get(http + "/health").status == 200)

        for i in 0..<3 { #expect(try n.outcome(try n.submit("nt.add", [.int(Int64(i)), 1])).get() == .int(Int64(i + 1))) }
        // nt.hang runs past its manifest's 1 s timeout: it fails.
        #expect(throws: RPCError.self) { try n.outcome(try n.submit("nt.hang")).get() }

        var page = try Self.metrics(http, reach: [
            #"zerotask_tasks_succeeded_total{method="nt.add"}"#: 3,
            #"zerotask_tasks_failed_total{method="nt.hang"}"#: 1,
        ])
        #expect(HTTPProbe.sample(page, #"zerotask_tasks_submitted_total{method="nt.add"}"#) == 3)
        #expect(HTTPProbe.sample(page, #"zerotask_tasks_started_total{method="nt.add"}"#) == 3)
        #expect(HTTPProbe.sample(page, #"zerotask_task_run_seconds_count{method="nt.add"}"#) == 3)
        #expect(HTTPProbe.sample(page, #"zerotask_task_queue_wait_seconds_count{method="nt.hang"}"#) == 1)
        // nt.hang ran for its whole 1 s timeout.
        #expect((HTTPProbe.sample(page, #"zerotask_task_run_seconds_sum{method="nt.hang"}"#) ?? 0) >= 0.9)
        // The built-in node's store is SQLite: every submission and result was a commit.
        #expect((HTTPProbe.sample(page, "zerotask_store_commit_seconds_count") ?? 0) >= 8)
        #expect(HTTPProbe.sample(page, "zerotask_nodes") == 1)
        #expect(HTTPProbe.sample(page, #"zerotask_workers{node="inhouse"}"#) == 1)

        // One worker: a slow task runs, the next one waits in the queue.
        let running = try n.submit("nt.slow")
        #expect(try eventually { try n.status(running) == .int(TaskStatus.running.rawValue) })
        let waiting = try n.submit("nt.sleep", [50])
        page = try Self.metrics(http, reach: [
            #"zerotask_tasks_running{method="nt.slow"}"#: 1,
            #"zerotask_queue_depth{method="nt.sleep"}"#: 1,
            #"zerotask_workers_busy{node="inhouse"}"#: 1,
        ])
        #expect(try n.client.result("client_cancel_task", ["user", running]) == true)
        #expect(try n.outcome(waiting).get() == .int(50))
        page = try Self.metrics(http, reach: [
            #"zerotask_tasks_cancelled_total{method="nt.slow"}"#: 1,
            #"zerotask_queue_depth{method="nt.sleep"}"#: 0,
            #"zerotask_tasks_succeeded_total{method="nt.sleep"}"#: 1,
        ])
    }

    /// A crashed worker's task runs again: the retry is counted.
    @Test func aTaskQueuedAgainAfterAWorkerCrashIsCountedAsRetried() throws {
        let http = try Self.unusedHTTP()
        let n = try Node()
        try n.start(workers: 1, extra: ["--http", http, "--max-retries", "1"])
        #expect(throws: RPCError.self) { try n.outcome(try n.submit("nt.segfault")).get() }
        let page = try Self.metrics(http, reach: [
            #"zerotask_tasks_retried_total{method="nt.segfault"}"#: 1,
            #"zerotask_tasks_failed_total{method="nt.segfault"}"#: 1,
        ])
        #expect(HTTPProbe.sample(page, #"zerotask_tasks_started_total{method="nt.segfault"}"#) == 2)
    }

    /// `/health` on a standalone broker turns 503, naming the store, while its PostgreSQL server
    /// is down (commits fail), and 200 again once the server is back; `/metrics` answers all along.
    @Test func healthIs503WhileTheStoreCannotWrite() throws {
        let pg = try PostgresServer()  // its own: the shared one must not stop under other tests
        let url = try pg.createDatabase()
        let http = try Self.unusedHTTP()
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", url, "--request", "tcp://127.0.0.1:*",
            "--publish", "tcp://127.0.0.1:*", "--http", http])
        defer { broker.stop() }
        let peer = try TestPeer(endpoint: try listeningEndpoints(of: broker).request, context: ZMQContext(), .req)
        #expect(try peer.result("client_connect", ["c"]) == "c")
        #expect(try eventually(30) { try HTTPProbe.get(http + "/health").status == 200 }, "\(broker.output)")

        pg.stop()
        // A submission the store must take: its commit fails, and is retried until the server is back.
        try peer.sendRaw(#"{"jsonrpc":"2.0","id":1,"method":"zerotask.broker.client_new_task","params":["c","m",[1]]}"#)
        var reply = HTTPProbe.Reply(status: 0, body: "")
        let unhealthy = try eventually(60) {
            reply = try HTTPProbe.get(http + "/health")
            return reply.status == 503
        }
        let page = try HTTPProbe.get(http + "/metrics").body
        #expect(unhealthy, "\(broker.output) \(page)")
        #expect(reply.body.contains("the store cannot write"), "\(reply.body)")
        #expect(try HTTPProbe.get(http + "/metrics").status == 200)

        try pg.start()
        #expect(try eventually(60) { try HTTPProbe.get(http + "/health").status == 200 }, "\(broker.output)")
    }

    /// A second broker on a taken HTTP port says so in its log and serves tasks all the same.
    @Test func aTakenHTTPPortIsLoggedAndTheBrokerServesOn() throws {
        let http = try Self.unusedHTTP()
        let first = try Node()
        try first.start(workers: 1, extra: ["--http", http])
        let second = try Node()
        try second.start(workers: 1, extra: ["--http", http])
        #expect(try second.outcome(try second.submit("nt.add", [2, 2])).get() == .int(4))
        let output = second.process?.output ?? ""
        #expect(output.contains("http: cannot serve \(http)"), "\(output)")
        #expect(try HTTPProbe.get(http + "/health").status == 200)
    }

    /// `--http off` serves nothing; a value without a scheme is refused, naming the setting.
    @Test func httpOffServesNothingAndABadAddressIsRefused() throws {
        let http = try Self.unusedHTTP()
        let n = try Node()
        try n.start(workers: 1, extra: ["--http", "off"])
        #expect(try HTTPProbe.get(http + "/health").status == 0)

        let bad = try ChildProcess(Binaries.zerotask, ["broker", "--http", "127.0.0.1:5580", "--store", "memory",
            "--request", try unusedEndpoint(), "--publish", try unusedEndpoint()])
        #expect(bad.waitForExit() != 0)
        #expect(bad.output.contains("broker.http must be off or http://HOST:PORT, not \"127.0.0.1:5580\""), "\(bad.output)")
    }
}
