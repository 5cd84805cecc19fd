#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A node presumed dead that was only frozen: real processes, SIGSTOP past `node_timeout`,
/// then SIGCONT. Its late result must not replace the one another node produced meanwhile.
@Suite(.serialized) struct NodeLateResultTests {
    @Test func aFrozenNodesLateResultDoesNotReplaceTheResultFromTheNodeThatTookOver() throws {
        // A node_timeout with room for a loaded machine: only the frozen node may miss it.
        let h = try NodeHarness(nodeTimeout: 3)
        let frozen = try h.startNode(id: "frozen", workers: 1)
        // nt.slowpid answers its worker's pid: each node's result is different.
        let tid = try h.submit("nt.slowpid", [2500])
        #expect(try eventually { try h.info(tid)["state"] == "running" && h.info(tid)["node_id"] == "frozen" })
        let other = try h.startNode(id: "other", workers: 1)

        // Frozen past node_timeout: the broker drops it and the task runs on "other". The frozen
        // node's worker is a process of its own and finishes its call meanwhile.
        frozen.signal(SIGSTOP)
        var resumed = false
        defer { if !resumed { frozen.signal(SIGCONT) } }
        guard case .success(let first) = try h.outcome(tid, seconds: 60) else {
            Issue.record("the task did not finish on the other node")
            return
        }
        let info = try h.info(tid)
        #expect(info["node_id"] == "other")
        #expect(info["attempts"] == 2)
        #expect(try h.client.result("nodes").arrayValue?.map { $0["node_id"] } == ["other"])

        // Thawed: it finds it was dropped, registers again and reports its own (different) result.
        frozen.signal(SIGCONT)
        resumed = true
        #expect(try eventually(30) { try h.serves("nt.slowpid", node: "frozen") }, "\(frozen.output)")
        // Take "other" away so the next task can only run on the thawed node. Its single worker is
        // free only once it handed over the late result, and a node reports what it has done
        // before it is given more: when this task finishes, the late report was dealt with.
        other.signal(SIGTERM)
        #expect(other.waitForExit(seconds: 30) == 0)
        let after = try h.submit("nt.slowpid", [1])
        guard case .success(let thawedWorker) = try h.outcome(after, seconds: 60) else {
            Issue.record("the thawed node did not serve")
            return
        }
        #expect(try h.info(after)["node_id"] == "frozen")
        #expect(thawedWorker != first, "both nodes' workers had the same pid?")
        // The first outcome stands, unchanged.
        #expect(try h.client.call("client_task_result", ["tester", tid]).outcome == .success(first))
        let again = try h.info(tid)
        #expect(again["node_id"] == "other")
        #expect(again["state"] == "finished")
        #expect(again["finished"] == info["finished"])
        #expect(frozen.isRunning)
    }
}
