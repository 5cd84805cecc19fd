import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// When a `client_call`'s task reaches the store (`BrokerConfig.callStoreDelay`): nobody can
/// name it before its reply, so one that completes within the delay is written once, with its
/// outcome; any other task, and a call whose id is told or claimable sooner, is written first.
@Suite struct BrokerStateStoredCallsTests {
    typealias Harness = BrokerStateTests.Harness

    static func journaling(_ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        var h = BrokerStateJournalTests.journaling(configure)
        h.setUp(methods: ["work"], workers: 2)
        _ = h.state.takeChanges()  // the client and node rows
        return h
    }

    static func call(_ h: inout Harness, taskID: String? = nil, wait: Double = 30) {
        #expect(h.run(.call(clientID: "alice", Submission(method: "work", params: [1], taskID: taskID), wait: wait), peer: "C") == .deferred)
    }

    /// n1 pulls what is queued; returns the task ids it got.
    static func pull(_ h: inout Harness) -> [String] {
        Harness.ids(h.value(.pull(nodeID: "n1", max: 10, wait: nil, done: []), peer: "N"))
    }

    static func finish(_ h: inout Harness, _ id: String) {
        #expect(h.reply(.report(nodeID: "n1", .init(taskID: id, outcome: .success(7))), peer: "N") == .accepted)
    }

    @Test func aCallThatCompletesWithinTheDelayIsWrittenOnceWithItsOutcome() throws {
        var h = Self.journaling()
        Self.call(&h)
        #expect(h.state.takeChanges().tasks.isEmpty)
        let pulled = Self.pull(&h)
        #expect(pulled.count == 1)
        let id = try #require(pulled.first)
        // Assigned and started: still nothing for the store.
        #expect(h.state.takeChanges().tasks.isEmpty)
        h.now += 0.5
        h.state.tick(now: h.now)
        #expect(h.state.takeChanges().tasks.isEmpty)
        Self.finish(&h, id)
        let written = h.state.takeChanges().tasks
        #expect(written.map(\.id) == [id])
        #expect(written.first?.status == .finished)
        #expect(written.first?.result == 7)
        #expect(written.first?.attempts == 1)
        // Its first row: the store need not look for an earlier one, nor tell other brokers.
        #expect(written.first?.neverStored == true)
        // Past the delay, nothing is written again.
        h.now += 5
        h.state.tick(now: h.now)
        #expect(h.state.takeChanges().tasks.isEmpty)
    }

    @Test func aCallStillOpenWhenTheDelayEndsIsWrittenThenAndAgainWithItsOutcome() throws {
        var h = Self.journaling { $0.callStoreDelay = 2 }
        Self.call(&h)
        Self.call(&h)
        let id = try #require(Self.pull(&h).first)
        h.now += 1.9
        h.state.tick(now: h.now)
        #expect(h.state.takeChanges().tasks.isEmpty)
        h.now += 0.2
        h.state.tick(now: h.now)
        // Both are written as they stand: on their node, so a broker that restarts finds them.
        let open = Dictionary(uniqueKeysWithValues: h.state.takeChanges().tasks.map { ($0.id, $0) })
        #expect(open.count == 2)
        #expect(open[id]?.status == .assigned)
        #expect(open[id]?.nodeID == "n1")
        #expect(open.values.allSatisfy { $0.status == .assigned })
        Self.finish(&h, id)
        let done = h.state.takeChanges().tasks
        #expect(done.map(\.id) == [id])
        #expect(done.first?.status == .finished)
        #expect(done.first?.neverStored == false, "written before: its queue row is replaced")
    }

    @Test func withNoDelayOrItsOwnTaskIDACallIsWrittenBeforeItStarts() {
        var h = Self.journaling { $0.callStoreDelay = 0 }
        Self.call(&h)
        #expect(h.state.takeChanges().tasks.map(\.status) == [.queued])

        // The client's own id (the Swift client's failover resends): it can ask for the task
        // elsewhere, so the task is on disk before it starts.
        var g = Self.journaling()
        Self.call(&g, taskID: "mine")
        #expect(g.state.takeChanges().tasks.map(\.id) == ["alice-mine"])
    }

    @Test func aCallAnsweredBeforeItsOutcomeIsWrittenWithThatAnswer() throws {
        var h = Self.journaling { $0.callStoreDelay = 60 }
        Self.call(&h, wait: 0.5)
        Self.call(&h, wait: 30)
        #expect(Self.pull(&h).count == 2)
        _ = h.state.takeOutputs()
        h.now += 0.6
        h.state.tick(now: h.now)
        // The first wait ended: its caller hears the task's id, so the task is written in the
        // commit that reply waits for; the other call's is not.
        let replies = h.state.takeOutputs().filter { if case .reply = $0 { true } else { false } }
        #expect(replies.count == 1)
        let written = h.state.takeChanges().tasks
        #expect(written.count == 1)
        #expect(written.first?.status == .assigned)

        // The client disconnects: its other call is answered, with the id, and written too.
        h.value(.clientDisconnect(clientID: "alice"), peer: "C")
        let second = h.state.takeChanges().tasks
        #expect(second.count == 1)
        #expect(second.first?.id != written.first?.id)
    }

    @Test func aStoppingBrokerWritesTheCallsItHoldsAndARestartFindsThem() throws {
        var h = Self.journaling()
        Self.call(&h)
        Self.call(&h)
        Self.call(&h)
        let pulled = Self.pull(&h)  // two of the three: n1 has 2 workers
        #expect(pulled.count == 2)
        #expect(h.state.takeChanges().tasks.isEmpty)
        h.state.storeAllCalls()
        var kept = BrokerStateJournalTests.Kept()
        kept.apply(h.state.takeChanges())
        #expect(kept.tasks.count == 3)
        #expect(pulled.allSatisfy { kept.tasks[$0]?.status == .assigned })

        // Started again on what was kept: the queued one is queued, the others await n1.
        let r = BrokerStateJournalTests.restarted(kept)
        #expect(r.state.taskCount == 3)
        #expect(r.state.queuedTaskCount == 1)
    }

    @Test func onASharedQueueOnlyACallClaimedHereWaitsForItsOutcome() {
        var h = BrokerStateSharedTests.harness()  // n1 has 2 workers
        _ = h.state.takeChanges()
        // Room for two here: claimed on insert, not written yet.
        Self.call(&h)
        Self.call(&h)
        #expect(h.state.takeChanges().tasks.isEmpty)
        // No room here: the third goes to the database's queue for any broker, written now.
        Self.call(&h)
        let left = h.state.takeChanges().tasks
        #expect(left.count == 1)
        #expect(left.first?.claim == nil)
        #expect(left.first?.status == .queued)
    }
}
