import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// `stats` counts tasks by status without scanning every task: its counts must agree with a
/// scan through every kind of move (assignment, running, finish, failure, cancel, release, node
/// loss, expiry, eviction). Injected clock, no sockets.
@Suite struct StatsSummaryTests {
    typealias Harness = BrokerStateTests.Harness

    static func check(_ h: inout Harness, _ when: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let stats = h.result("stats", peer: "C")
        var scan: [String: Int64] = [:]
        for t in h.state.tasks.values { scan[t.status.description, default: 0] += 1 }
        for s in TaskStatus.allCases {
            #expect(stats[s.description]?.int64Value ?? -1 == scan[s.description] ?? 0, "\(s) after \(when): \(stats)",
                sourceLocation: sourceLocation)
        }
    }

    @Test func countsAgreeWithAScanThroughEveryMove() {
        var h = Harness { $0.maxResults = 4 }
        h.setUp(workers: 3)
        h.result("node_connect", ["node_id": "n2", "methods": ["work"], "workers": 2], peer: "N2")
        for i in 0..<8 { h.submit("t\(i)") }
        Self.check(&h, "submitting")
        let got = Harness.ids(h.result("node_task_pull", ["n1", 3], peer: "N"))
        let got2 = Harness.ids(h.result("node_task_pull", ["n2", 2], peer: "N2"))
        Self.check(&h, "pulls")
        h.result("task_status", ["node_id": "n1", "task_id": .string(got[0]), "status": "running"], peer: "N")
        h.result("task_status", ["node_id": "n1", "task_id": .string(got[1]), "status": "running"], peer: "N")
        Self.check(&h, "running")
        h.result("node_task_finished", ["node_id": "n1", "task_id": .string(got[0]), "result": 1], peer: "N")
        h.result("node_task_failed", ["node_id": "n1", "task_id": .string(got[1]), "error": ["code": -32000, "message": "no"]], peer: "N")
        Self.check(&h, "finish and failure")
        h.result("client_cancel_task", ["alice", .string(got[2])], peer: "C")
        h.result("client_cancel_task", ["alice", "alice-t7"], peer: "C")
        Self.check(&h, "cancels")
        h.result("node_task_release", ["n2", [.string(got2[0])]], peer: "N2")
        Self.check(&h, "release")
        h.result("node_disconnect", ["n2"], peer: "N2")
        Self.check(&h, "node loss")
        for id in Harness.ids(h.result("node_task_pull", ["n1", 3], peer: "N")) {
            h.result("node_task_finished", ["node_id": "n1", "task_id": .string(id), "result": 2], peer: "N")
        }
        Self.check(&h, "evictions")
        #expect(h.state.results.evicted > 0)
        h.now += 100_000
        h.state.tick(now: h.now)
        Self.check(&h, "expiry")
    }
}
