#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Several nodes, killed nodes, reloads and shutdown.
@Suite(.serialized) struct NodeLifecycleTests {
    @Test func threeNodesShareWorkAndAKilledNodesTaskFinishesElsewhere() throws {
        let h = try NodeHarness(nodeTimeout: 1.5)
        let nodes = try ["a", "b", "c"].map { try h.startNode(id: $0, workers: 1) }
        // Share: tasks that take a moment spread over the nodes.
        let ids = try (0..<6).map { _ in try h.submit("nt.sleep", [300]) }
        var servedBy = Set<String>()
        for id in ids {
            #expect(try h.outcome(id) == .success(300))
            if let n = try h.info(id)["node_id"]?.stringValue { servedBy.insert(n) }
        }
        #expect(servedBy.count >= 2, "served by \(servedBy)")
        // Kill the node running a long task: after node_timeout it runs elsewhere.
        let long = try h.submit("nt.sleep", [2000])
        #expect(try eventually { try h.info(long)["node_id"]?.stringValue != nil })
        let victim = try h.info(long)["node_id"]!.stringValue!
        let index = ["a", "b", "c"].firstIndex(of: victim)!
        nodes[index].signal(SIGKILL)
        #expect(try h.outcome(long) == .success(2000))
        let info = try h.info(long)
        #expect(info["node_id"] != .string(victim))
        #expect(info["attempts"] == 2)
    }

    @Test func pluginDroppedInWhileRunningBecomesCallable() throws {
        let h = try NodeHarness()
        try h.startNode(id: "reload", workers: 1)
        #expect(try !h.serves("extra.triple", node: "reload"))
        try FixturePlugins.compile("extra", from: NodeHarness.fixtures, into: h.plugins)
        #expect(try eventually(30) { try h.serves("extra.triple", node: "reload") })
        #expect(try h.outcome(try h.submit("extra.triple", [14])) == .success(42))
        // The old methods still work on the new generation.
        #expect(try h.outcome(try h.submit("nt.add", [1, 2])) == .success(3))
        // Removing it takes it away again.
        try FileManager.default.removeItem(atPath: h.plugins + "/extra.so")
        try FileManager.default.removeItem(atPath: h.plugins + "/extra.json")
        #expect(try eventually(30) { try !h.serves("extra.triple", node: "reload") })
    }

    @Test func sigtermDrainsRunningTasksThenDisconnects() throws {
        let h = try NodeHarness()
        let node = try h.startNode(id: "drain", workers: 1)
        let tid = try h.submit("nt.sleep", [1500])
        #expect(try eventually { try h.client.result("client_task_status", ["tester", tid]) == .int(5000) })
        node.signal(SIGTERM)
        #expect(node.waitForExit(seconds: 30) == 0, "\(node.output)")
        #expect(try h.outcome(tid) == .success(1500))
        #expect(try h.client.result("nodes") == [])
    }

    @Test func noWorkerOutlivesAKilledNode() throws {
        let h = try NodeHarness()
        let node = try h.startNode(id: "orphan", workers: 2)
        // Two tasks at once occupy both workers: each answers with its worker's pid.
        let both = try [h.submit("nt.slowpid", [300]), h.submit("nt.slowpid", [300])]
        var pids = Set<Int64>()
        for t in both { if case .success(.int(let p)) = try h.outcome(t) { pids.insert(p) } }
        #expect(pids.count == 2)
        // One worker is busy in a hung plugin call when the node dies.
        let hung = try h.submit("nt.sleep", [60_000])
        #expect(try eventually { try h.client.result("client_task_status", ["tester", hung]) == .int(5000) })
        node.signal(SIGKILL)
        node.waitForExit(seconds: 10)
        #expect(eventually(10) { pids.allSatisfy { processIsGone(Int32($0)) } }, "workers \(pids) outlived their node")
    }

    @Test func settingsComeFromFileThenEnvironmentThenFlags() throws {
        let h = try NodeHarness()
        let file = FixturePlugins.temporaryDirectory("zt-config") + "/zerotask.yaml"
        try """
            # a test configuration
            node:
              workers: 1            # overridden by the environment below
              default_timeout: 0.5  # a task with no timeout of its own gets this
              max_tasks_per_worker: 0
            """.write(toFile: file, atomically: true, encoding: .utf8)
        try h.startNode(id: "configured", workers: nil, extra: ["--config", file, "--max-tasks-per-worker", "1"],
            environment: ["ZEROTASK_NODE_WORKERS": "3"])
        let node = try h.client.result("nodes").arrayValue?.first { $0["node_id"] == "configured" }
        #expect(node?["workers"] == 3)  // environment over file
        guard case .failure(let e) = try h.outcome(try h.submit("nt.sleep", [10_000])) else { Issue.record("no timeout"); return }
        #expect(e.code == -32060 && e.message.contains("0.5 s"))  // file over default
        // Flag over file: every worker serves one task, so four tasks meet four workers (three
        // workers that were never replaced would repeat one).
        var pids = Set<String>()
        for _ in 0..<4 { pids.insert(try h.outcome(try h.submit("nt.pid")).get().jsonString) }
        #expect(pids.count == 4)
    }

    @Test func pluginReplacedInPlaceTakesEffectWithoutHurtingARunningTask() throws {
        let h = try NodeHarness(plugins: ["nodetest", "extra"])
        try h.startNode(id: "inplace", workers: 2, waitFor: "extra.triple")
        #expect(try h.outcome(try h.submit("extra.triple", [1])) == .success(3))
        // The new build is ready before the running task starts, so the task spans the overwrite.
        let build = FixturePlugins.temporaryDirectory("zt-build")
        defer { try? FileManager.default.removeItem(atPath: build) }
        try FixturePlugins.compile("extra2", from: NodeHarness.fixtures, into: build)
        let new = try Data(contentsOf: URL(fileURLWithPath: build + "/extra2.so"))
        // The running task sleeps inside the very library that is overwritten: it returns into
        // its code after the bytes changed. One attempt only (max_retries 0): a crash is not
        // rescued by running it again.
        let running = try h.client.result("client_new_task", ["client_id": "tester", "method": "extra.slowtriple",
            "params": [3000], "max_retries": 0])
        #expect(try eventually { try h.client.result("client_task_status", ["tester", running]) == .int(5000) })
        // Overwrite the library's bytes in place (same inode), as a careless `cp` would.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: h.plugins + "/extra.so"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: new)
        try handle.close()
        #expect(try h.client.result("client_task_status", ["tester", running]) == .int(5000), "the overwrite came too late")
        #expect(try eventually(30) { try h.outcome(try h.submit("extra.triple", [1])) == .success(1003) })
        // The old code answered, in its first and only attempt.
        #expect(try h.outcome(running) == .success(9000))
        #expect(try h.info(running)["attempts"] == 1)
    }

    @Test func nodeRegistersAgainWhenItsBrokerRestarts() throws {
        let h = try NodeHarness()
        // A standalone broker process the test can kill, on ports chosen now and kept (outside
        // the ephemeral range, so no broker binding `*` meanwhile can take them).
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        func startBroker() throws -> ChildProcess {
            try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--request", request, "--publish", publish])
        }
        var broker = try startBroker()
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", request, "--broker-publish", publish, "--plugins", h.plugins, "--workers", "1",
            "--node-id", "phoenix",
        ])
        defer { node.stop(); broker.stop() }
        let context = ZMQContext()
        func add(_ a: Int64) throws -> JSONValue? {
            let peer = try TestPeer(endpoint: request, context: context)
            guard case .success = try peer.call("client_connect", ["again"]).outcome else { return nil }
            let tid = try peer.result("client_new_task", ["again", "nt.add", [.int(a), 1]])
            var result: JSONValue?
            _ = try eventually(20) {
                if case .success(let r) = try peer.call("client_task_result", ["again", tid]).outcome { result = r }
                return result != nil
            }
            return result
        }
        #expect(eventually(30) { (try? add(1)) == 2 })
        broker.signal(SIGKILL)
        broker.waitForExit()
        broker = try startBroker()
        // The node finds out by itself (its heartbeat is refused or unanswered) and registers again.
        #expect(eventually(60) { (try? add(41)) == 42 }, "node output:\n\(node.output)")
        #expect(node.isRunning)
    }

    @Test func nodeWithABuiltInBrokerServesClientsOverTCP() throws {
        let plugins = FixturePlugins.temporaryDirectory()
        try FixturePlugins.compile("nodetest", from: NodeHarness.fixtures, into: plugins)
        let data = FixturePlugins.temporaryDirectory("zt-data")
        // The main job: a node with its own broker (SQLite store in a data directory of its own),
        // on ports it picks itself and reports.
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", "builtin", "--request", "tcp://127.0.0.1:*", "--publish", "tcp://127.0.0.1:*", "--plugins", plugins,
            "--workers", "2", "--data-dir", data,
        ])
        defer { node.stop() }
        let request = try listeningEndpoints(of: node).request
        let peer = try TestPeer(endpoint: request, context: ZMQContext())
        #expect(eventually(30) { (try? peer.call("methods").outcome.get().arrayValue?.contains { $0["name"] == "nt.add" }) == true },
            "node output:\n\(node.output)")
        _ = try peer.result("client_connect", ["builtin-user"])
        let tid = try peer.result("client_new_task", ["builtin-user", "nt.add", [20, 22]])
        var result: JSONValue?
        #expect(try eventually(30) {
            if case .success(let r) = try peer.call("client_task_result", ["builtin-user", tid]).outcome { result = r }
            return result != nil
        })
        #expect(result == 42)
        #expect(FileManager.default.fileExists(atPath: data + "/zerotask.sqlite"))
        node.signal(SIGTERM)
        #expect(node.waitForExit(seconds: 30) == 0)
    }
}
