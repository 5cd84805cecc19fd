#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `zerotask node --broker builtin`: the broker runs on the node's own thread and the node
/// calls it directly, with no socket between them. Everything that crosses that link — tasks,
/// results, the cancel notification, the store's commits, the drain — is checked here through
/// a real node process and a client on TCP.
@Suite(.timeLimit(.minutes(10))) struct BuiltInBrokerTests {
    final class BuiltInNode {
        let plugins: String
        let data: String
        let request: String
        let publish: String
        var process: ChildProcess?
        let client: TestPeer

        init(plugins names: [String] = ["nodetest"]) throws {
            plugins = FixturePlugins.temporaryDirectory()
            for n in names { try FixturePlugins.compile(n, from: NodeHarness.fixtures, into: plugins) }
            data = FixturePlugins.temporaryDirectory("zt-data")
            request = try unusedEndpoint()
            publish = try unusedEndpoint()
            client = try TestPeer(endpoint: request, context: ZMQContext())
        }

        /// Starts the node (SQLite store in `data`) and waits until it serves `method`.
        func start(workers: Int = 1, waitFor method: String = "nt.add", extra: [String] = []) throws {
            let node = try ChildProcess(Binaries.zerotask, [
                "node", "--broker", "builtin", "--request", request, "--publish", publish, "--plugins", plugins,
                "--workers", "\(workers)", "--data-dir", data, "--node-id", "inhouse", "--log-level", "debug",
            ] + extra)
            process = node
            let up = eventually(30) {
                (try? client.call("methods").outcome.get().arrayValue?.contains { $0["name"] == .string(method) }) == true
                    || !node.isRunning
            }
            guard up, node.isRunning else { throw TimedOut(what: "built-in node to serve \(method); its output:\n\(node.output)") }
            _ = try client.result("client_connect", ["user"])
        }

        func submit(_ method: String, _ params: JSONValue = []) throws -> JSONValue {
            try client.result("client_new_task", ["user", .string(method), params])
        }

        func status(_ taskID: JSONValue) throws -> JSONValue { try client.result("client_task_status", ["user", taskID]) }

        /// Waits up to `seconds` for the task to complete and returns its outcome.
        func outcome(_ taskID: JSONValue, seconds: Double = 60) throws -> Result<JSONValue, RPCError> {
            let done = try eventually(seconds) {
                let s = try status(taskID)
                return s == .int(TaskStatus.finished.rawValue) || s == .int(TaskStatus.failed.rawValue)
            }
            guard done else { throw TimedOut(what: "task \(taskID)") }
            return try client.call("client_task_result", ["user", taskID]).outcome
        }

        deinit {
            process?.stop()
            try? FileManager.default.removeItem(atPath: plugins)
            try? FileManager.default.removeItem(atPath: data)
        }
    }

    /// The cancel reaches the node as its broker's notification, handed over in-process: the
    /// plugin sees `ctx->cancelled` long before its 30 s of work are over. (Heartbeats are
    /// rare here, so the node's periodic task check cannot be what tells it.)
    @Test func aCancelReachesTheRunningTaskThroughTheNodesOwnBroker() throws {
        let n = try BuiltInNode()
        try n.start(workers: 1, extra: ["--heartbeat-interval", "30"])
        let worker = try n.outcome(try n.submit("nt.pid")).get()
        let slow = try n.submit("nt.slow")
        #expect(try eventually { try n.status(slow) == .int(TaskStatus.running.rawValue) })
        #expect(try n.client.result("client_cancel_task", ["user", slow]) == true)
        #expect(try n.outcome(slow).failureCode == ErrorCode.taskCancelled.rawValue)
        // The one worker is free again well before nt.slow would have ended, and was not killed.
        #expect(try n.outcome(try n.submit("nt.pid"), seconds: 10) == .success(worker))
    }

    /// SIGTERM drains the running task into the store, and a node started again on the same
    /// data directory still has its result and the tasks that were queued.
    @Test func aDrainedNodeKeepsResultsAndQueuedTasksAcrossARestart() throws {
        let n = try BuiltInNode()
        try n.start(workers: 1)
        let running = try n.submit("nt.sleep", [1500])
        #expect(try eventually { try n.status(running) == .int(TaskStatus.running.rawValue) })
        let queued = try n.submit("nt.add", [40, 2])
        n.process!.signal(SIGTERM)
        #expect(n.process!.waitForExit(seconds: 30) == 0, "node output:\n\(n.process!.output)")

        // Read the store the node left, before anything can run again: the running task was
        // drained to its result (handed back instead, it would be queued and run a second time
        // after the restart to the same result), the queued one waits.
        let store = try SQLiteTaskStore(path: n.data + "/zerotask.sqlite")
        let stored = try store.load().tasks
        store.close()
        let drained = try #require(stored.first { $0.id == running.stringValue })
        #expect(drained.status == .finished && drained.result == 1500 && drained.attempts == 1, "\(drained)")
        #expect(stored.first { $0.id == queued.stringValue }?.status == .queued)

        try n.start(workers: 1)
        #expect(try n.status(running) == .int(TaskStatus.finished.rawValue))
        #expect(try n.outcome(running) == .success(1500))
        #expect(try n.client.result("client_task_info", ["user", running])["attempts"] == 1)
        #expect(try n.outcome(queued) == .success(42))
    }

    /// The built-in broker still serves nodes over TCP: a second node, with a method the first
    /// does not have, takes that method's tasks.
    @Test func aRemoteNodeJoinsTheBuiltInBroker() throws {
        let n = try BuiltInNode()
        try n.start(workers: 1)
        let extra = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: extra) }
        try FixturePlugins.compile("extra", from: NodeHarness.fixtures, into: extra)
        let remote = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", n.request, "--broker-publish", n.publish, "--plugins", extra, "--workers", "1",
            "--node-id", "visitor",
        ])
        defer { remote.stop() }
        let tid = try n.submit("extra.triple", [14])
        #expect(try n.outcome(tid) == .success(42), "remote node output:\n\(remote.output)")
        #expect(try n.outcome(try n.submit("nt.add", [1, 2])) == .success(3))
        let nodes = try n.client.result("nodes").arrayValue?.compactMap { $0["node_id"]?.stringValue } ?? []
        #expect(Set(nodes) == ["inhouse", "visitor"])
    }
}
