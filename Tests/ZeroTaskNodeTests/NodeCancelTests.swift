#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `client_cancel_task` end to end with a real node: queued tasks never run, a running task
/// that honours `ctx->cancelled` stops on its own, and one that ignores it loses its worker
/// after the cancel grace.
@Suite(.serialized) struct NodeCancelTests {
    static let cancelled = ErrorCode.taskCancelled.rawValue

    @Test func aCancelledQueuedTaskNeverRuns() throws {
        let h = try NodeHarness()
        // No node yet: both tasks are certainly queued.
        let doomed = try h.submit("nt.chatty", [1234])
        let kept = try h.submit("nt.chatty", [21])
        #expect(try h.client.result("client_task_status", ["tester", doomed]) == .int(TaskStatus.queued.rawValue))
        #expect(try h.client.result("client_cancel_task", ["tester", doomed]) == true)
        // Cancelling again: already complete.
        #expect(try h.client.result("client_cancel_task", ["tester", doomed]) == false)
        #expect(try h.client.result("stats")["queued"] == 1)

        let node = try h.startNode(id: "canceller", workers: 1)
        #expect(try h.outcome(kept) == .success(42))
        #expect(try h.outcome(try h.submit("nt.add", [1, 1])) == .success(2))
        guard case .failure(let e) = try h.outcome(doomed) else { Issue.record("the cancelled task has a result"); return }
        #expect(e.code == Self.cancelled)
        #expect(try h.info(doomed)["attempts"] == 0)
        // The plugin never saw it: chatty prints its argument.
        #expect(try eventually { node.output.contains("plugin output 21") })
        #expect(!node.output.contains("plugin output 1234"))
    }

    @Test func aRunningTaskThatHonoursCancellationStopsAndKeepsItsWorker() throws {
        let h = try NodeHarness()
        try h.startNode(id: "polite", workers: 1)
        let worker = try h.outcome(try h.submit("nt.pid")).get()
        let tid = try h.submit("nt.slow")
        #expect(try eventually { try h.client.result("client_task_status", ["tester", tid]) == .int(TaskStatus.running.rawValue) })
        #expect(try h.client.result("client_cancel_task", ["tester", tid]) == true)
        guard case .failure(let e) = try h.outcome(tid) else { Issue.record("not cancelled"); return }
        #expect(e.code == Self.cancelled)
        // nt.slow returns at once when cancelled: its worker is not killed and serves the next task
        // (long before nt.slow's own 30 s were over).
        #expect(try h.outcome(try h.submit("nt.pid"), seconds: 10) == .success(worker))
        // The broker's answer stands whatever the node reported afterwards.
        #expect(try h.outcome(tid).failureCode == Self.cancelled)
    }

    @Test func aRunningTaskThatIgnoresCancellationLosesItsWorkerAfterTheGrace() throws {
        let h = try NodeHarness()
        try h.startNode(id: "stubborn", workers: 1)
        guard case .int(let worker) = try h.outcome(try h.submit("nt.pid")).get() else {
            Issue.record("nt.pid gave no pid")
            return
        }
        // A plain C sleep never looks at ctx->cancelled.
        let tid = try h.submit("nt.sleep", [120_000])
        #expect(try eventually { try h.client.result("client_task_status", ["tester", tid]) == .int(TaskStatus.running.rawValue) })
        #expect(try h.client.result("client_cancel_task", ["tester", tid]) == true)
        #expect(try h.outcome(tid).failureCode == Self.cancelled)
        // After the node's cancel grace (2 s) the worker is killed and replaced.
        #expect(eventually(30) { processIsGone(Int32(worker)) }, "worker \(worker) still runs the cancelled task")
        let next = try h.outcome(try h.submit("nt.pid")).get()
        #expect(next != .int(worker))
        #expect(try h.outcome(try h.submit("nt.add", [2, 2])) == .success(4))
        #expect(try h.outcome(tid).failureCode == Self.cancelled)
    }
}


