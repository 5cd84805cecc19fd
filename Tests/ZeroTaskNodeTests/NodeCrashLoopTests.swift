#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A poison task: a plugin that segfaults on every attempt. Real node, real workers.
@Suite(.serialized) struct NodeCrashLoopTests {
    @Test func aTaskThatAlwaysSegfaultsFailsAfterMaxRetriesAndTheNodeStaysHealthy() throws {
        let h = try NodeHarness()
        try h.startNode(id: "sturdy", workers: 1)
        let firstWorker = try h.outcome(try h.submit("nt.pid")).get()

        let poison = try h.client.result("client_new_task", [
            "client_id": "tester", "method": "nt.segfault", "params": [], "task_id": "poison", "max_retries": 2,
        ])
        guard case .failure(let e) = try h.outcome(poison) else {
            Issue.record("a segfaulting task did not fail")
            return
        }
        // Exactly 1 + max_retries attempts, each of which killed a worker; then the crash itself.
        #expect(e.code == ErrorCode.workerCrashed.rawValue)
        #expect(e.data?["signal"] == "SIGSEGV", "\(e)")
        #expect(e.data?["attempts"] == 3, "\(e)")
        let info = try h.info(poison)
        #expect(info["attempts"] == 3)
        #expect(info["state"] == "failed")

        // The node serves the next task, on a worker started after the crashes.
        #expect(try h.outcome(try h.submit("nt.add", [20, 22])) == .success(42))
        let nextWorker = try h.outcome(try h.submit("nt.pid")).get()
        #expect(nextWorker != firstWorker)
        if case .int(let pid) = firstWorker { #expect(processIsGone(Int32(pid)), "the crashed worker \(pid) is gone") }

        // `nodes` still lists it, and its own counts say three crashes and fresh workers.
        let counted = try eventually(30) {
            let node = try h.client.result("nodes").arrayValue?.first { $0["node_id"] == "sturdy" }
            return node?["status"]?["crashes"] == 3 && (node?["status"]?["worker_starts"]?.int64Value ?? 0) >= 4
        }
        let listed = try h.client.result("nodes")
        #expect(counted, "\(listed)")
        // So does `zerotask nodes`.
        let cli = try ChildProcess(Binaries.zerotask, ["nodes", "--broker", h.broker.request])
        #expect(cli.waitForExit(seconds: 30) == 0, "\(cli.output)")
        #expect(cli.output.split(separator: "\n").contains { $0.hasPrefix("sturdy") }, "\(cli.output)")
        #expect(h.nodes[0].isRunning)
    }
}
