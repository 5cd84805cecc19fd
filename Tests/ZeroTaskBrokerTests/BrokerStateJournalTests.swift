import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// What the state machine records for the store, and how it starts again from what was stored:
/// no sockets, no files, an injected clock.
@Suite struct BrokerStateJournalTests {
    typealias Harness = BrokerStateTests.Harness

    /// Applies changes as a store would, keeping the latest row of each task and client.
    struct Kept {
        var tasks: [String: StoredTask] = [:]
        var clients: [String: StoredClient] = [:]

        mutating func apply(_ c: StoreChanges) {
            for t in c.tasks { tasks[t.id] = t }
            for id in c.deletedTasks { tasks[id] = nil }
            for cl in c.clients { clients[cl.id] = cl }
            for id in c.deletedClients { clients[id] = nil }
        }

        var contents: StoreContents {
            StoreContents(tasks: Array(tasks.values), clients: Array(clients.values))
        }
    }

    static func journaling(_ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        var h = Harness(configure)
        h.state.journaling = true
        return h
    }

    /// A broker started on what `kept` holds, `after` seconds of monotonic time later.
    static func restarted(_ kept: Kept, at now: MonotonicInstant = 1000, _ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        var h = journaling(configure)
        h.now = now
        h.state.restore(kept.contents, now: now)
        return h
    }

    @Test func withoutJournalingNothingIsRecorded() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        #expect(h.state.takeChanges().isEmpty)
    }

    @Test func aTaskChangedSeveralTimesInOneIterationIsWrittenOnceAsItEnds() {
        var h = Self.journaling()
        h.setUp()
        var first = h.state.takeChanges()
        #expect(first.clients == [StoredClient(id: "alice", connected: true)])
        h.submit("a", priority: 7, maxRetries: 2)
        first = h.state.takeChanges()
        #expect(first.tasks.count == 1)
        #expect(first.tasks.first?.status == .queued)
        #expect(first.tasks.first?.priority == 7)
        #expect(first.tasks.first?.maxRetries == 2)

        h.submit("b")
        h.value(.pull(nodeID: "n1", max: 10, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: "alice-b", outcome: .success(["x": 1]))), peer: "N")
        let c = h.state.takeChanges()
        let byID = Dictionary(uniqueKeysWithValues: c.tasks.map { ($0.id, $0) })
        #expect(c.tasks.count == 2)
        #expect(byID["alice-a"]?.status == .assigned)
        #expect(byID["alice-a"]?.nodeID == "n1")
        #expect(byID["alice-a"]?.attempts == 1)
        #expect(byID["alice-b"]?.status == .finished)
        #expect(byID["alice-b"]?.result == ["x": 1])
        #expect(byID["alice-b"]?.finished != nil)
        #expect(h.state.takeChanges().isEmpty)
    }

    @Test func disconnectsAndExpiredResultsAreRecorded() {
        var h = Self.journaling { $0.resultTTL = 10 }
        h.setUp()
        h.submit("a")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: "alice-a", outcome: .failure(RPCError(code: 5, message: "no")))), peer: "N")
        h.value(.clientDisconnect(clientID: "alice"), peer: "C")
        let c = h.state.takeChanges()
        #expect(c.clients == [StoredClient(id: "alice", connected: false)])
        #expect(c.tasks.first?.error == RPCError(code: 5, message: "no"))
        h.now = 20
        h.state.tick(now: h.now)
        #expect(h.state.takeChanges().deletedTasks == ["alice-a"])
    }

    @Test func queuedTasksComeBackInPriorityThenSubmissionOrder() {
        var h = Self.journaling()
        h.setUp()
        var kept = Kept()
        for (name, priority) in [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -1)] { h.submit(name, priority: Int64(priority)) }
        kept.apply(h.state.takeChanges())

        var r = Self.restarted(kept)
        r.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "M")
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "M")) == ["b", "d", "a", "c", "e"].map { "alice-\($0)" })
        // New submissions continue the sequence: FIFO holds across the restart.
        r.submit("f", priority: 5)
        r.value(.nodeConnect(nodeID: "n3", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "O")
        #expect(r.state.tasks["alice-f"]!.sequence > r.state.tasks["alice-e"]!.sequence)
    }

    @Test func aClientCarriesOnWithItsIdAndReadsItsResultsAfterARestart() {
        var h = Self.journaling()
        h.setUp()
        var kept = Kept()
        h.submit("a")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: "alice-a", outcome: .success(42))), peer: "N")
        kept.apply(h.state.takeChanges())

        var r = Self.restarted(kept)
        // Same id, a new connection, no client_connect: served.
        #expect(r.value(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C2") == 42)
        // Or, after another restart, client_connect from a new connection is not refused as taken.
        var r2 = Self.restarted(kept)
        #expect(r2.value(.clientConnect(clientID: "alice"), peer: "C3") == "alice")
        #expect(r2.value(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C3") == 42)
        // Another client does not see alice's task.
        r.value(.clientConnect(clientID: "bob"), peer: "B")
        #expect(r.refusal(.clientTask(.status, clientID: "bob", taskID: "alice-a"), peer: "B")?.code == ErrorCode.invalidTaskID.rawValue)
    }

    @Test func aDisconnectedClientStaysDisconnectedAndKeepsItsTasks() {
        var h = Self.journaling()
        h.setUp()
        var kept = Kept()
        h.submit("a")
        h.value(.clientDisconnect(clientID: "alice"), peer: "C")
        kept.apply(h.state.takeChanges())

        var r = Self.restarted(kept)
        #expect(r.refusal(.clientTask(.status, clientID: "alice", taskID: "alice-a"), peer: "C")?.code == ErrorCode.invalidClientID.rawValue)
        r.value(.clientConnect(clientID: "alice"), peer: "C")
        #expect(r.status("alice-a") == .int(TaskStatus.queued.rawValue))
    }

    @Test func aRunningTaskWaitsForItsNodeToComeBackAndIsNotRunTwice() {
        var h = Self.journaling()
        h.setUp()
        var kept = Kept()
        h.submit("a")
        h.submit("b")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        kept.apply(h.state.takeChanges())

        var r = Self.restarted(kept)
        r.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "M")
        // Another node gets only the queued task, not the one n1 still runs.
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "M")) == ["alice-b"])
        // n1 is asked to register again (its session died with the broker) ...
        #expect(r.refusal(.heartbeat(nodeID: "n1"), peer: "N2")?.code == ErrorCode.invalidNodeID.rawValue)
        #expect(r.refusal(.reportMany(nodeID: "n1", [.init(taskID: "alice-a", outcome: .success(1))]), peer: "N2")?.code
            == ErrorCode.invalidNodeID.rawValue)
        // ... and once it did, from a new connection, its task is still its own and its result is taken.
        r.value(.nodeConnect(nodeID: "n1", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        let gone = r.value(.checkTasks(nodeID: "n1", taskIDs: ["alice-a"], complete: false), peer: "N2")
        #expect(gone == [], "\(gone)")
        // Confirmed: it stays n1's past node_timeout, and no other node gets it.
        r.now += 11
        r.value(.heartbeat(nodeID: "n1"), peer: "N2")
        r.value(.heartbeat(nodeID: "n2"), peer: "M")
        r.state.tick(now: r.now)
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "M")) == [])
        #expect(r.value(.reportMany(nodeID: "n1", [.init(taskID: "alice-a", outcome: .success(1))]), peer: "N2") == [true])
        #expect(r.value(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C") == 1)
        #expect(r.state.tasks["alice-a"]!.attempts == 1)
    }

    @Test func aTaskItsNodeNeverHeardOfIsQueuedAgainWhenTheNodeDoesNotConfirmIt() {
        // The old broker stored the assignment, then died before its reply reached the node.
        var h = Self.journaling { $0.nodeTimeout = 10 }
        h.setUp()
        var kept = Kept()
        h.submit("a")
        h.submit("b")
        h.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N")
        kept.apply(h.state.takeChanges())

        var r = Self.restarted(kept) { $0.nodeTimeout = 10 }
        r.value(.nodeConnect(nodeID: "n1", methods: ["work"], workers: 2, capacity: nil, unavailable: [:]), peer: "N2")
        // n1 runs alice-a only; alice-b's assignment never reached it.
        #expect(r.value(.checkTasks(nodeID: "n1", taskIDs: ["alice-a"], complete: false), peer: "N2") == [])
        r.now += 5
        r.value(.heartbeat(nodeID: "n1"), peer: "N2")
        r.state.tick(now: r.now)
        #expect(Harness.ids(r.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N2")) == [])
        r.now += 6
        r.value(.heartbeat(nodeID: "n1"), peer: "N2")
        r.state.tick(now: r.now)
        #expect(Harness.ids(r.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N2")) == ["alice-b"])
        #expect(r.state.tasks["alice-a"]!.nodeID == "n1")
    }

    @Test func aNodeThatDoesNotComeBackLosesItsTasksAfterNodeTimeout() {
        var h = Self.journaling { $0.nodeTimeout = 10 }
        h.setUp()
        var kept = Kept()
        h.submit("a")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        kept.apply(h.state.takeChanges())

        var r = Self.restarted(kept) { $0.nodeTimeout = 10 }
        r.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "M")
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "M")) == [])
        r.now += 11
        r.value(.heartbeat(nodeID: "n2"), peer: "M")
        r.state.tick(now: r.now)
        let pulled = r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "M")
        #expect(Harness.ids(pulled) == ["alice-a"])
        // The attempt lost with the broker counts: at-least-once, bounded by max_retries.
        #expect(r.state.tasks["alice-a"]!.attempts == 2)
        kept.apply(r.state.takeChanges())
        #expect(kept.tasks["alice-a"]?.nodeID == "n2")
    }

    @Test func resultTTLCountsFromTheFinishTimeAcrossARestart() {
        var h = Self.journaling { $0.resultTTL = 100 }
        h.setUp()
        var kept = Kept()
        h.submit("a")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: "alice-a", outcome: .success(1))), peer: "N")
        kept.apply(h.state.takeChanges())
        // The harness's wall clock is fixed, so the result is as old as the restart: 100 s to go.
        var r = Self.restarted(kept) { $0.resultTTL = 100 }
        r.state.tick(now: r.now + 50)
        #expect(r.state.tasks["alice-a"] != nil)
        r.state.tick(now: r.now + 101)
        #expect(r.state.tasks["alice-a"] == nil)
        #expect(r.state.takeChanges().deletedTasks == ["alice-a"])
    }
}
