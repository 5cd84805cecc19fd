import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// `stats` counts tasks by status without scanning every task: its counts must agree with a
/// scan through every kind of move (assignment, running, finish, failure, cancel, release, node
/// loss, expiry, eviction). Injected clock, no sockets.
@Suite struct StatsSummaryTests {
    typealias Harness = BrokerStateTests.Harness

    static func check(_ h: inout Harness, _ when: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let stats = h.value(.stats, peer: "C")
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
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: 2, capacity: nil, unavailable: [:]), peer: "N2")
        for i in 0..<8 { h.submit("t\(i)") }
        Self.check(&h, "submitting")
        let got = Harness.ids(h.value(.pull(nodeID: "n1", max: 3, wait: nil, done: []), peer: "N"))
        let got2 = Harness.ids(h.value(.pull(nodeID: "n2", max: 2, wait: nil, done: []), peer: "N2"))
        Self.check(&h, "pulls")
        h.value(.taskStatus(nodeID: "n1", taskID: got[0], status: .running, fields: [:]), peer: "N")
        h.value(.taskStatus(nodeID: "n1", taskID: got[1], status: .running, fields: [:]), peer: "N")
        Self.check(&h, "running")
        h.value(.report(nodeID: "n1", .init(taskID: got[0], outcome: .success(1))), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: got[1], outcome: .failure(RPCError(code: -32000, message: "no")))), peer: "N")
        Self.check(&h, "finish and failure")
        h.value(.clientTask(.cancel, clientID: "alice", taskID: got[2]), peer: "C")
        h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-t7"), peer: "C")
        Self.check(&h, "cancels")
        h.value(.release(nodeID: "n2", taskIDs: [got2[0]]), peer: "N2")
        Self.check(&h, "release")
        h.value(.nodeDisconnect(nodeID: "n2"), peer: "N2")
        Self.check(&h, "node loss")
        for id in Harness.ids(h.value(.pull(nodeID: "n1", max: 3, wait: nil, done: []), peer: "N")) {
            h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(2))), peer: "N")
        }
        Self.check(&h, "evictions")
        #expect(h.state.results.evicted > 0)
        h.now += 100_000
        h.state.tick(now: h.now)
        Self.check(&h, "expiry")
    }
}
