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
        #expect(Harness.ids(h.result("node_task_pull", ["n1", 3], peer: "N")) == ["alice-a", "alice-b", "alice-c"])
        h.result("node_task_finished", ["alice-a", 1], peer: "N")
        #expect(h.result("node_disconnect", ["n1"], peer: "N") == true)
        #expect(h.status("alice-a") == .int(TaskStatus.finished.rawValue))
        #expect(h.status("alice-b") == .int(TaskStatus.queued.rawValue))
        #expect(h.status("alice-c") == .int(TaskStatus.queued.rawValue))
        #expect(h.state.queuedTaskCount == 2)
        h.result("node_connect", ["node_id": "n2", "methods": ["work"], "workers": 2], peer: "M")
        #expect(Harness.ids(h.result("node_task_pull", ["n2", 2], peer: "M")) == ["alice-b", "alice-c"])
    }

    /// "A new pull from the same node answers the previous parked one with `[]`."
    @Test func aNewPullAnswersTheNodesParkedPullWithNothing() {
        var h = Harness()
        h.setUp(workers: 1)
        guard case .deferred = h.call("node_task_pull", ["node_id": "n1", "max": 1, "wait": 30], peer: "N", id: 1) else {
            Issue.record("the first pull was not parked")
            return
        }
        #expect(h.replies().isEmpty)
        guard case .deferred = h.call("node_task_pull", ["node_id": "n1", "max": 1, "wait": 30], peer: "N", id: 2) else {
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
        let e = h.error("client_new_task", ["client_id": "alice", "method": "other", "params": [], "task_id": "d"], peer: "C")
        #expect(e?.code == ErrorCode.queueFull.rawValue, "\(String(describing: e))")
        // Taking one out of the queue makes room again.
        #expect(Harness.ids(h.result("node_task_pull", ["n1", 1], peer: "N")) == ["alice-a"])
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
        #expect(Harness.ids(h.result("node_task_pull", ["n1", 1], peer: "N")) == ["alice-a"])
        kept.apply(h.state.takeChanges())

        var after = BrokerStateJournalTests.restarted(kept)
        let listed = after.result("nodes", [], peer: "C").arrayValue ?? []
        #expect(listed.count == 1)
        #expect(listed.first?["node_id"] == "n1")
        #expect(listed.first?["awaiting_reconnect"] == true)
        #expect(listed.first?["assigned"] == 1)
        #expect(after.status("alice-a") == .int(TaskStatus.assigned.rawValue))
        // It connects again: no longer awaiting, and the task is still its own.
        after.result("node_connect", ["node_id": "n1", "methods": ["work"], "workers": 1], peer: "N")
        let again = after.result("nodes", [], peer: "C").arrayValue ?? []
        #expect(again.first?["awaiting_reconnect"] == nil)
        #expect(after.result("node_task_finished", ["alice-a", 5], peer: "N") == true)
        #expect(after.status("alice-a") == .int(TaskStatus.finished.rawValue))
    }
}
