#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Retries after application errors and delayed tasks end to end: a real broker, a real node
/// process, and a C plugin (Fixtures/flaky.c) that fails on purpose a given number of runs and
/// counts each run in a file, so the test sees how often the plugin really ran.
@Suite struct BrokerDelayRetryNodeTests {
    /// The harness with the flaky plugin served by node n1, and a folder for the run files.
    static func setUp() throws -> (NodeHarness, String) {
        let h = try NodeHarness(plugins: ["flaky"])
        try h.startNode(id: "n1", waitFor: "fl.retried")
        let runs = FixturePlugins.temporaryDirectory("zt-runs")
        return (h, runs)
    }

    static func runs(_ dir: String, _ key: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: "\(dir)/\(key)"))?[.size] as? Int) ?? 0
    }

    func submit(_ h: NodeHarness, _ method: String, _ params: JSONValue, extra: JSONObject = [:]) throws -> JSONValue {
        var p: JSONObject = ["client_id": "tester", "method": .string(method), "params": params]
        for m in extra.members { p[m.key] = m.value }
        return try h.client.result("client_new_task", .object(p))
    }

    @Test func aMethodsManifestPolicyRetriesUntilSuccessAndKeepsTheFailedAttempts() throws {
        let (h, runs) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: runs) }
        let id = try submit(h, "fl.retried", [.string(runs), "a", 2, 17])
        #expect(try h.outcome(id) == .success(3))
        #expect(Self.runs(runs, "a") == 3)
        let info = try h.info(id)
        #expect(info["attempts"] == 3)
        let history = info["history"]?.arrayValue ?? []
        #expect(history.map { $0["attempt"] } == [1, 2])
        #expect(history.map { $0["error"]?["code"] } == [17, 17])
        #expect(history.map { $0["error"]?["message"] } == ["run 1 failed on purpose", "run 2 failed on purpose"])
        #expect(history.allSatisfy { $0["node_id"] == "n1" })
        // The admin view the dashboard's task page reads shows them too.
        let detail = try h.client.result("admin_task", ["task_id": id])
        #expect(detail["history"]?.arrayValue?.count == 2)
        #expect(try h.client.result("stats")["retried_total"] == 2)
    }

    @Test func exhaustedRetriesGiveTheLastErrorWithEveryAttemptAndAnotherCodeFailsAtOnce() throws {
        let (h, runs) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: runs) }
        let exhausted = try submit(h, "fl.retried", [.string(runs), "b", 10, 17])
        let other = try submit(h, "fl.retried", [.string(runs), "c", 10, 18])
        let plain = try submit(h, "fl.once", [.string(runs), "d", 10, 17])
        guard case .failure(let e) = try h.outcome(exhausted) else { Issue.record("it succeeded"); return }
        #expect(e.code == 17 && e.message == "run 3 failed on purpose")
        #expect(Self.runs(runs, "b") == 3)
        let history = try h.info(exhausted)["history"]?.arrayValue ?? []
        #expect(history.map { $0["error"]?["message"] } == (1...3).map { .string("run \($0) failed on purpose") })
        guard case .failure(let o) = try h.outcome(other), case .failure(let p) = try h.outcome(plain) else {
            Issue.record("a task that may not retry succeeded")
            return
        }
        #expect(o.code == 18 && p.code == 17)
        #expect(Self.runs(runs, "c") == 1 && Self.runs(runs, "d") == 1)
        #expect(try h.info(other)["history"] == nil)
    }

    @Test func aTasksOwnRetryPolicyOverridesTheMethodsNone() throws {
        let (h, runs) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: runs) }
        let id = try submit(h, "fl.once", [.string(runs), "e", 1, 17], extra: ["retry": ["max_attempts": 2, "backoff": 0]])
        #expect(try h.outcome(id) == .success(2))
        #expect(try h.info(id)["retry"]?["max_attempts"] == 2)
    }

    @Test func aDelayedTaskStartsNoEarlierThanItsTimeAndACancelledOneNeverRuns() throws {
        let (h, runs) = try Self.setUp()
        defer { try? FileManager.default.removeItem(atPath: runs) }
        let later = try submit(h, "fl.once", [.string(runs), "f", 0, 17], extra: ["delay": 1.5])
        let cancelled = try submit(h, "fl.once", [.string(runs), "g", 0, 17], extra: ["delay": 30])
        let waiting = try h.info(cancelled)
        #expect(waiting["state"] == "queued" && waiting["delayed"] == true)
        #expect(try h.client.result("client_cancel_task", ["tester", cancelled]) == true)
        #expect(try h.outcome(later) == .success(1))
        let info = try h.info(later)
        let notBefore = try #require(info["not_before"]?.doubleValue)
        let started = try #require(info["started"]?.doubleValue)
        let created = try #require(info["created"]?.doubleValue)
        #expect(abs(notBefore - (created + 1.5)) < 1e-6)
        // The broker times the wait on its monotonic clock; the wall clock may differ from it by
        // a few parts per million, hence the millisecond.
        #expect(started >= notBefore - 0.001, "started \(notBefore - started) s before its time")
        guard case .failure(let e) = try h.outcome(cancelled) else { Issue.record("the cancelled task succeeded"); return }
        #expect(e.code == ErrorCode.taskCancelled.rawValue)
        #expect(Self.runs(runs, "g") == 0)
    }
}

/// A real `zerotask broker` on SQLite killed with SIGKILL while one task waits for its
/// `not_before` and another for its retry's back-off, then started again on the same file.
@Suite struct BrokerDelayRestartTests {
    @Test func delayedAndBackingOffTasksSurviveABrokerKilledAndStartedAgain() throws {
        let context = ZMQContext()
        let dir = FixturePlugins.temporaryDirectory("zt-delay-restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plugins = dir + "/plugins", runs = dir + "/runs"
        for d in [plugins, runs] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try FixturePlugins.compile("flaky", from: NodeHarness.fixtures, into: plugins)
        let request = try unusedEndpoint(), publish = try unusedEndpoint()

        func startBroker() throws -> (ChildProcess, TestPeer) {
            // The ports were just released by the killed broker: retry while it cannot bind.
            for _ in 0..<50 {
                let b = try ChildProcess(Binaries.zerotask, [
                    "broker", "--store", "sqlite:\(dir)/broker.sqlite", "--request", request, "--publish", publish, "--http", "off",
                ])
                let peer = try TestPeer(endpoint: request, context: context)
                if (try? peer.call("stats")) != nil, b.isRunning { return (b, peer) }
                b.stop()
                Thread.sleep(forTimeInterval: 0.2)
            }
            throw TimedOut(what: "the broker to start on \(request)")
        }

        var (broker, client) = try startBroker()
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", request, "--broker-publish", publish, "--plugins", plugins, "--node-id", "n1", "--workers", "1",
        ])
        defer { node.stop() }
        #expect(try client.result("client_connect", ["tester"]) == "tester")
        #expect(try eventually(30) {
            try client.result("methods").arrayValue?.contains { $0["name"] == "fl.retried" && $0["nodes"] == ["n1"] } == true
        })
        let wall = Date().timeIntervalSince1970
        let delayed = try client.result("client_new_task", [
            "client_id": "tester", "method": "fl.once", "params": [.string(runs), "h", 0, 17], "not_before": .double(wall + 10),
        ])
        let backingOff = try client.result("client_new_task", [
            "client_id": "tester", "method": "fl.once", "params": [.string(runs), "i", 1, 17],
            "retry": ["max_attempts": 2, "backoff": 10, "jitter": 0],
        ])
        #expect(try eventually(30) { try client.result("client_task_info", ["tester", backingOff])["history"] != nil })

        broker.signal(SIGKILL)
        #expect(broker.waitForExit(seconds: 10) != nil)
        (broker, client) = try startBroker()
        defer { broker.stop() }

        // Both still wait, with their times and the failed attempt, and run when due.
        let d = try client.result("client_task_info", ["tester", delayed])
        #expect(d["state"] == "queued" && d["delayed"] == true)
        #expect(d["not_before"]?.doubleValue == wall + 10)
        let b = try client.result("client_task_info", ["tester", backingOff])
        #expect(b["state"] == "queued" && b["delayed"] == true)
        #expect(b["history"]?.arrayValue?.first?["error"]?["message"] == "run 1 failed on purpose")
        for (id, result) in [(delayed, JSONValue(1)), (backingOff, JSONValue(2))] {
            #expect(try eventually(60) {
                let s = try client.result("client_task_status", ["tester", id])
                return s == .int(TaskStatus.finished.rawValue) || s == .int(TaskStatus.failed.rawValue)
            })
            let info = try client.result("client_task_info", ["tester", id])
            #expect(try client.call("client_task_result", ["tester", id]).outcome == .success(result), "\(info)")
            let started = info["started"]?.doubleValue ?? 0, notBefore = info["not_before"]?.doubleValue ?? .infinity
            #expect(started >= notBefore - 0.001, "\(id) started \(notBefore - started) s early")
        }
        #expect(BrokerDelayRetryNodeTests.runs(runs, "h") == 1)
        #expect(BrokerDelayRetryNodeTests.runs(runs, "i") == 2)
    }
}
