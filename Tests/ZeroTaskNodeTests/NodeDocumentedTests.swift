#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// What README.md and docs/PROTOCOL.md promise of a node that no other test touched, with real
/// node processes, workers and compiled plugins.
@Suite(.serialized) struct NodeDocumentedTests {
    /// -32603 for a result larger than the worker's `max_result_bytes` (1 MiB less 4 KiB);
    /// the worker carries on.
    @Test func aResultOverMaxResultBytesFailsWithAnInternalError() throws {
        let h = try NodeHarness()
        try h.startNode(id: "big", workers: 1)
        #expect(try h.outcome(try h.submit("nt.big", [1000])) == .success(.string(String(repeating: "a", count: 1000))))
        guard case .failure(let e) = try h.outcome(try h.submit("nt.big", [2_000_000])) else {
            Issue.record("a 2 MB result was accepted")
            return
        }
        #expect(e.code == ErrorCode.internalError.rawValue)
        #expect(e.message.contains("nt.big") && e.message.contains("max_result_bytes"), "\(e.message)")
        #expect(try h.outcome(try h.submit("nt.add", [1, 2])) == .success(3))
    }

    /// A deadline asked for is capped by `max_timeout`, and a timeout names its seconds and the
    /// worker (`data.timeout`, `data.worker`).
    @Test func deadlinesAreCappedByMaxTimeoutAndTheTimeoutSaysWhich() throws {
        let h = try NodeHarness()
        try h.startNode(id: "capped", workers: 1, extra: ["--max-timeout", "1"])
        guard case .failure(let e) = try h.outcome(try h.submit("nt.sleep", [30_000], timeout: 20)) else {
            Issue.record("the sleep was not cut short")
            return
        }
        #expect(e.code == ErrorCode.taskTimedOut.rawValue)
        #expect(e.data?["timeout"]?.doubleValue == 1, "\(e)")
        #expect(e.data?["worker"]?.int64Value != nil, "\(e)")
        #expect(try h.outcome(try h.submit("nt.add", [2, 2])) == .success(4))
    }

    /// At the deadline the worker's whole process group is killed: a child the plugin forked
    /// does not outlive the task.
    @Test func theDeadlineEndsTheWorkersWholeProcessGroup() throws {
        let h = try NodeHarness()
        try h.startNode(id: "forks", workers: 1)
        let pidFile = h.plugins + "/child.pid"
        guard case .failure(let e) = try h.outcome(try h.submit("nt.forkhang", [.string(pidFile)], timeout: 1)) else {
            Issue.record("the hang did not time out")
            return
        }
        #expect(e.code == ErrorCode.taskTimedOut.rawValue)
        let text = try String(contentsOfFile: pidFile, encoding: .utf8)
        let child = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(eventually(10) { processIsGone(child) }, "the plugin's child \(child) outlived the deadline")
        if !processIsGone(child) { kill(child, SIGKILL) }
    }

    /// A shutdown that outlasts `drain_grace` hands the running task back: queued again, for
    /// another node to run.
    @Test func aTaskRunningPastTheDrainGraceIsHandedBack() throws {
        let h = try NodeHarness()
        let node = try h.startNode(id: "impatient", workers: 1, extra: ["--drain-grace", "1"])
        let tid = try h.submit("nt.sleep", [4000])
        #expect(try eventually { try h.client.result("client_task_status", ["tester", tid]) == .int(TaskStatus.running.rawValue) })
        node.signal(SIGTERM)
        #expect(node.waitForExit(seconds: 30) == 0, "\(node.output)")
        #expect(try h.client.result("client_task_status", ["tester", tid]) == .int(TaskStatus.queued.rawValue))
        #expect(try h.client.result("nodes") == [])
        try h.startNode(id: "patient", workers: 1)
        #expect(try h.outcome(tid) == .success(4000))
        #expect(try h.info(tid)["node_id"] == "patient")
    }

    /// Notifications are only a shortcut: a node whose broker publish endpoint is dead (every
    /// notification lost) still gets its tasks, and a cancel still reaches a running task
    /// through the node's periodic task check.
    @Test func aNodeThatHearsNoNotificationsStillWorks() throws {
        let h = try NodeHarness(nodeTimeout: 2.5)  // heartbeats, and task checks, every 0.5 s
        let dead = try unusedEndpoint()
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", h.broker.request, "--broker-publish", dead, "--plugins", h.plugins, "--node-id", "deaf",
            "--workers", "1", "--heartbeat-interval", "\(h.heartbeat)",
        ])
        h.nodes.append(node)
        #expect(try eventually(30) { try h.serves("nt.add", node: "deaf") }, "\(node.output)")
        for i in 0..<5 { #expect(try h.outcome(try h.submit("nt.add", [.int(Int64(i)), 1])) == .success(.int(Int64(i + 1)))) }
        let slow = try h.submit("nt.slow")
        #expect(try eventually { try h.client.result("client_task_status", ["tester", slow]) == .int(TaskStatus.running.rawValue) })
        #expect(try h.client.result("client_cancel_task", ["tester", slow]) == true)
        #expect(try h.outcome(slow).failureCode == ErrorCode.taskCancelled.rawValue)
        // The worker is free again long before nt.slow's own 30 s.
        #expect(try h.outcome(try h.submit("nt.add", [20, 22]), seconds: 10) == .success(42))
    }

    /// A worker killed as the kernel's OOM killer does (SIGKILL, from outside, mid-task) fails
    /// its task with -32061 and the signal in `data`; the node replaces the worker and serves on.
    @Test func aWorkerKilledForMemoryFailsItsTask() throws {
        let h = try NodeHarness()
        try h.startNode(id: "oom", workers: 1)
        guard case .int(let worker) = try h.outcome(try h.submit("nt.pid")).get() else {
            Issue.record("nt.pid gave no pid")
            return
        }
        // One attempt only: a crash would otherwise be retried on a fresh worker.
        let tid = try h.client.result("client_new_task", ["client_id": "tester", "method": "nt.sleep", "params": [30_000],
            "max_retries": 0])
        #expect(try eventually { try h.client.result("client_task_status", ["tester", tid]) == .int(TaskStatus.running.rawValue) })
        #expect(kill(Int32(worker), SIGKILL) == 0)
        guard case .failure(let e) = try h.outcome(tid) else {
            Issue.record("the task survived its worker")
            return
        }
        #expect(e.code == ErrorCode.workerCrashed.rawValue, "\(e)")
        #expect(e.data?["signal"] == "SIGKILL" && e.data?["signal_number"] == .int(Int64(SIGKILL)), "\(e)")
        #expect(try h.outcome(try h.submit("nt.add", [1, 1]), seconds: 30) == .success(2))
    }
}
