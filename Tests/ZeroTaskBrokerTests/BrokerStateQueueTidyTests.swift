import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Tasks that leave a queue other than from its top (claimed by id in the seed flow, cancelled,
/// finished elsewhere) must not stay in the queue's heap for good: a queue nobody pulls from is
/// never swept by a pull.
@Suite struct BrokerStateQueueTidyTests {
    typealias Harness = BrokerStateTests.Harness

    @Test func tasksClaimedByIDDoNotPileUpInTheQueue() {
        var h = Harness()
        h.setUp()
        h.submit("kept")
        for i in 0..<5000 {
            h.submit("t\(i)")
            // The seed flow: the node claims the task it heard about by id, then finishes it.
            _ = h.value(.claim(nodeID: "n1", taskID: "alice-t\(i)"), peer: "N")
            h.value(.report(nodeID: "n1", .init(taskID: "alice-t\(i)", outcome: .success(1))), peer: "N")
        }
        #expect(h.state.queues["work"]?.liveCount == 1)
        #expect((h.state.queues["work"]?.heap.count ?? 0) <= 1025, "\(h.state.queues["work"]?.heap.count ?? 0) heap entries for 1 queued task")
        // The one left is still served first.
        #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 5, wait: nil, done: []), peer: "N")) == ["alice-kept"])
        // And a queue left empty is gone altogether.
        h.submit("last")
        _ = h.value(.claim(nodeID: "n1", taskID: "alice-last"), peer: "N")
        #expect(h.state.queues["work"] == nil)
    }

    @Test func cancelledTasksOfAMethodNoNodeServesLeaveNothingBehind() {
        var h = Harness()
        h.setUp()
        h.submit("waits", method: "nobody.serves")
        for i in 0..<5000 {
            h.submit("c\(i)", method: "nobody.serves")
            #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-c\(i)"), peer: "C") == true)
        }
        #expect(h.state.queues["nobody.serves"]?.liveCount == 1)
        #expect((h.state.queues["nobody.serves"]?.heap.count ?? 0) <= 1025)
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-waits"), peer: "C") == true)
        #expect(h.state.queues["nobody.serves"] == nil)
        #expect(h.state.queuedTaskCount == 0)
        // A method name submitted to once and cancelled is not kept either.
        for i in 0..<100 {
            h.submit("m\(i)", method: "made.up\(i)")
            h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-m\(i)"), peer: "C")
        }
        #expect(h.state.queues.isEmpty)
    }
}
