import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Rules docs/PROTOCOL.md promises that no other test touched, checked on the state machine.
@Suite struct BrokerStateDocumentedTests {
    typealias Harness = BrokerStateTests.Harness

    /// `node_disconnect`: "its unfinished tasks are queued again" — and another node gets them.
    @Test func aDisconnectingNodesUnfinishedTasksAreQueuedAgain() {
        var h = Harness()
        h.setUp(workers: 3)
        for name in ["a", "b", "c"] { h.submit(name) }
        #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 3, wait: nil, done: []), peer: "N")) == ["alice-a", "alice-b", "alice-c"])
        h.value(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(1))), peer: "N")
        #expect(h.value(.nodeDisconnect(nodeID: "n1"), peer: "N") == true)
        #expect(h.status("alice-a") == .int(TaskStatus.finished.rawValue))
        #expect(h.status("alice-b") == .int(TaskStatus.queued.rawValue))
        #expect(h.status("alice-c") == .int(TaskStatus.queued.rawValue))
        #expect(h.state.queuedTaskCount == 2)
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: 2, capacity: nil, unavailable: [:]), peer: "M")
        #expect(Harness.ids(h.value(.pull(nodeID: "n2", max: 2, wait: nil, done: []), peer: "M")) == ["alice-b", "alice-c"])
    }

    /// "A new pull from the same node answers the previous parked one with `[]`."
    @Test func aNewPullAnswersTheNodesParkedPullWithNothing() {
        var h = Harness()
        h.setUp(workers: 1)
        guard case .deferred = h.run(.pull(nodeID: "n1", max: 1, wait: 30, done: []), peer: "N", id: 1) else {
            Issue.record("the first pull was not parked")
            return
        }
        #expect(h.replies().isEmpty)
        guard case .deferred = h.run(.pull(nodeID: "n1", max: 1, wait: 30, done: []), peer: "N", id: 2) else {
            Issue.record("the second pull was not parked")
            return
        }
        let replies = h.replies()
        #expect(replies.count == 1)
        #expect(replies.first?.1.id == 1)
        #expect((try? replies.first?.1.outcome.get()) == [])
        // The second one is the pull that gets the next task.
        h.submit("a")
        let next = h.replies()
        #expect(next.map(\.1.id) == [2])
        #expect(Harness.ids((try? next.first?.1.outcome.get()) ?? .null) == ["alice-a"])
    }

    /// `max_queued` bounds the tasks queued in all, whatever their method: -32070 beyond it.
    @Test func theGlobalQueueLimitCountsEveryMethod() {
        var h = Harness { $0.maxQueued = 3 }
        h.setUp(methods: ["work", "other"])
        h.submit("a", method: "work")
        h.submit("b", method: "other")
        h.submit("c", method: "work")
        let e = h.refusal(.submit(clientID: "alice", Submission(method: "other", params: [], taskID: "d")), peer: "C")
        #expect(e?.code == ErrorCode.queueFull.rawValue, "\(String(describing: e))")
        // Taking one out of the queue makes room again.
        #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) == ["alice-a"])
        h.submit("d", method: "other")
        #expect(h.state.queuedTaskCount == 3)
    }

    /// After a restart, a node that had tasks is listed with `awaiting_reconnect` and keeps them
    /// until it connects again.
    @Test func aNodeWithTasksIsListedAwaitingReconnectAfterARestart() {
        var h = BrokerStateJournalTests.journaling()
        h.setUp(workers: 1)
        var kept = BrokerStateJournalTests.Kept()
        h.submit("a")
        #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) == ["alice-a"])
        kept.apply(h.state.takeChanges())

        var after = BrokerStateJournalTests.restarted(kept)
        let listed = after.value(.nodes(refresh: false), peer: "C").arrayValue ?? []
        #expect(listed.count == 1)
        #expect(listed.first?["node_id"] == "n1")
        #expect(listed.first?["awaiting_reconnect"] == true)
        #expect(listed.first?["assigned"] == 1)
        #expect(after.status("alice-a") == .int(TaskStatus.assigned.rawValue))
        // It connects again: no longer awaiting, and the task is still its own.
        after.value(.nodeConnect(nodeID: "n1", methods: ["work"], workers: 1, capacity: nil, unavailable: [:]), peer: "N")
        let again = after.value(.nodes(refresh: false), peer: "C").arrayValue ?? []
        #expect(again.first?["awaiting_reconnect"] == nil)
        #expect(after.value(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(5))), peer: "N") == true)
        #expect(after.status("alice-a") == .int(TaskStatus.finished.rawValue))
    }
}
