import Testing
import ZeroTaskProtocol
import Synchronization

@testable import ZeroTaskBroker

/// The rules of a broker on a shared PostgreSQL queue (`BrokerState+Shared`) with no database:
/// what each commit asks of the queue (`takeChanges`) and what its answer does (`applyShared`).
@Suite struct BrokerStateSharedTests {
    typealias Harness = BrokerStateTests.Harness

    /// A broker on a shared queue with client "alice" on C and node "n1" (2 workers, "work") on N.
    static func harness() -> Harness {
        var h = Harness()
        h.state.journaling = true
        h.state.shareQueue(pollInterval: 1)
        h.setUp(methods: ["work"], workers: 2)
        return h
    }

    /// Parks a pull of n1 for up to two tasks.
    static func park(_ h: inout Harness) {
        #expect(h.run(.pull(nodeID: "n1", max: 2, wait: 30, done: []), peer: "N") == .deferred)
    }

    /// The claim a commit would ask for now.
    static func ask(_ h: inout Harness) -> SharedQueueRequest.Claim? { h.state.takeChanges().shared.claim }

    /// A commit's answer: its claim took `claimed` of what it asked.
    static func answer(_ h: inout Harness, _ asked: SharedQueueRequest.Claim?, claimed: [StoredTask] = []) {
        var f = StoreFeedback()
        f.asked = asked
        f.claimed = claimed
        h.state.applyShared(f, now: h.now)
    }

    @Test func aClaimThatCameBackShortIsNotAskedAgainUntilThereIsNews() {
        var h = Self.harness()
        Self.park(&h)
        // Nothing known yet: any method may be waiting in the database.
        let first = Self.ask(&h)
        #expect(first == .init(methods: ["work"], limit: 2, epoch: first?.epoch ?? -1))
        Self.answer(&h, first)
        // It came back empty: later commits ask nothing (a broker whose tasks were all claimed
        // on insert no longer asks the database in every commit).
        #expect(Self.ask(&h) == nil)
        #expect(Self.ask(&h) == nil)
        // Another broker queued "work": asked again, and forgotten again when short.
        h.state.sharedQueueNotified(methods: ["work"], anyMethod: false, results: false)
        let second = Self.ask(&h)
        #expect(second?.methods == ["work"])
        Self.answer(&h, second)
        #expect(Self.ask(&h) == nil)
        // News of a method no node here serves asks nothing.
        h.state.sharedQueueNotified(methods: ["other"], anyMethod: false, results: false)
        #expect(Self.ask(&h) == nil)
        // The poll timer asks in any case, at most every poll interval.
        h.now += 2
        h.state.tick(now: h.now)
        #expect(Self.ask(&h)?.methods == ["work"])
    }

    @Test func newsThatCameWhileAClaimWasOutIsNotForgotten() {
        var h = Self.harness()
        Self.park(&h)
        let asked = Self.ask(&h)
        #expect(asked != nil)
        // While the claim's commit runs, another broker queues "work"; the claim then comes
        // back empty, having looked before that task was there.
        h.state.sharedQueueNotified(methods: ["work"], anyMethod: false, results: false)
        Self.answer(&h, asked)
        #expect(Self.ask(&h)?.methods == ["work"])
    }

    @Test func aClaimThatTookAllItAskedAsksAgain() {
        var h = Self.harness()
        Self.park(&h)
        let asked = Self.ask(&h)
        let rows = (0..<2).map { i -> StoredTask in
            var s = StoredTask(id: "bob-\(i)", clientID: "bob", method: "work", params: [], priority: 0, sequence: UInt64(i),
                attempts: 1, status: .assigned, created: 1_800_000_000)
            s.claim = 1
            return s
        }
        Self.answer(&h, asked, claimed: rows)
        // The parked pull got both; the node has no room now, so nothing is asked until it does.
        #expect(Harness.ids((try? h.replies().first?.1.outcome.get()) ?? .null) == ["bob-0", "bob-1"])
        #expect(Self.ask(&h) == nil)
        // Room again (both done, a new pull parked): more may be waiting, so it asks.
        let done = rows.map { BrokerCommand.TaskOutcome(taskID: $0.id, outcome: .success(1)) }
        #expect(h.run(.pull(nodeID: "n1", max: 2, wait: 30, done: done), peer: "N") == .deferred)
        #expect(Self.ask(&h)?.methods == ["work"])
    }

    @Test func aTaskClaimedOnInsertIsWrittenOnceAndThenOnlyItsOutcome() {
        var h = Self.harness()
        Self.park(&h)
        _ = h.state.takeChanges()
        // Submitted with room here: claimed on insert and handed to the parked pull at once.
        let id = h.value(.submit(clientID: "alice", Submission(method: "work", params: [1])), peer: "C").stringValue ?? ""
        #expect(Harness.ids((try? h.replies().first?.1.outcome.get()) ?? .null) == [id])
        let inserted = h.state.takeChanges().tasks
        #expect(inserted.map(\.id) == [id] && inserted.first?.claim == 1)
        // Running on the node: only this broker needs to know; the row still says "claimed here".
        _ = h.run(.taskStatus(nodeID: "n1", taskID: id, status: .running, fields: [:]), peer: "N")
        #expect(h.state.takeChanges().tasks.isEmpty)
        // Its outcome is written.
        _ = h.run(.report(nodeID: "n1", .init(taskID: id, outcome: .success(2))), peer: "N")
        let finished = h.state.takeChanges().tasks
        #expect(finished.map(\.id) == [id] && finished.first?.status == .finished && finished.first?.result == 2)
    }
}

extension BrokerStateSharedTests {
    /// A task another broker took (unknown here) is read from the queue once, by the command
    /// that names it — whichever path the command came by — and answered from what was read.
    @Test func aCommandNamingATaskHeldElsewhereReadsItFromTheQueueFirst() {
        var h = Harness()
        let asked = Mutex<[[String]]>([])
        let row = StoredTask(
            id: "alice-t9", clientID: "alice", spec: TaskSpec(method: "work", params: [1]), sequence: 1, maxRetries: 0,
            attempts: 1, status: .finished, nodeID: "n2", result: 42, error: nil, created: 1, started: 2, finished: 3)
        h.state.shareQueue(pollInterval: 1, reader: QueueReader(claim: { _ in [] }, lookUp: { ids in
            asked.withLock { $0.append(ids) }
            return ids == ["alice-t9"] ? [row] : []
        }))
        h.setUp(methods: ["work"], workers: 2)
        #expect(h.run(.clientTask(.result, clientID: "alice", taskID: "alice-t9"), peer: "C") == .reply(.value(42)))
        // Known here now, and finished: not read again.
        #expect(h.run(.clientTask(.status, clientID: "alice", taskID: "alice-t9"), peer: "C") == .reply(.status(.finished)))
        #expect(asked.withLock { $0 } == [["alice-t9"]])
    }
}
