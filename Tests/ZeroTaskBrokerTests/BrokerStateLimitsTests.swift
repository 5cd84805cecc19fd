import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Limits, routing and queue control as rules (issue 17, items 4 and 5): typed commands, a
/// clock the test moves, no sockets. Concurrency and rate gates across nodes, tags routing
/// tasks to nodes, and an admin's pause, resume and purge.
@Suite struct BrokerStateLimitsTests {
    typealias Harness = BrokerStateTests.Harness

    static func limited(_ policies: [String: MethodPolicy]) -> Harness {
        Harness { $0.methodPolicies = policies }
    }

    static func pull(_ h: inout Harness, _ node: String = "n1", peer: String = "N", max: Int = 100,
        wait: Double? = nil, done: [BrokerCommand.TaskOutcome] = []) -> [String]
    {
        Harness.ids(h.value(.pull(nodeID: node, max: max, wait: wait, done: done), peer: peer))
    }

    static func done(_ id: String) -> BrokerCommand.TaskOutcome { .init(taskID: id, outcome: .success(1)) }

    /// The task ids of the late replies (parked pulls answered) since the last call.
    static func handedOut(_ h: inout Harness) -> [String] {
        h.replies().flatMap { Harness.ids((try? $0.1.outcome.get()) ?? .null) }
    }

    // MARK: concurrency

    @Test func concurrencyTwoHandsOutTwoOfFiveUntilOneIsReported() {
        var h = Self.limited(["work": MethodPolicy(concurrency: 2)])
        h.setUp()
        for i in 1...5 { h.submit("t\(i)") }
        #expect(Self.pull(&h) == ["alice-t1", "alice-t2"])
        #expect(Self.pull(&h) == [])
        // A second node gets none either: the limit is across all nodes.
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        #expect(Self.pull(&h, "n2", peer: "N2") == [])
        // One report frees one place.
        #expect(Self.pull(&h, done: [Self.done("alice-t1")]) == ["alice-t3"])
        #expect(Self.pull(&h, "n2", peer: "N2") == [])
        h.value(.report(nodeID: "n1", Self.done("alice-t2")), peer: "N")
        #expect(Self.pull(&h, "n2", peer: "N2") == ["alice-t4"])
        #expect(h.status("alice-t5") == .int(TaskStatus.queued.rawValue))
    }

    @Test func otherMethodsKeepFlowingPastAMethodAtItsLimit() {
        var h = Self.limited(["work": MethodPolicy(concurrency: 1)])
        h.setUp(methods: ["work", "other"])
        h.submit("w1")
        h.submit("w2")
        h.submit("o1", method: "other")
        h.submit("o2", method: "other")
        #expect(Set(Self.pull(&h)) == ["alice-w1", "alice-o1", "alice-o2"])
    }

    @Test func aParkedPullGetsTheNextTaskWhenAPlaceFrees() {
        var h = Self.limited(["work": MethodPolicy(concurrency: 1)])
        h.setUp()
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        h.submit("a")
        h.submit("b")
        #expect(Self.pull(&h) == ["alice-a"])
        #expect(h.run(.pull(nodeID: "n2", max: 5, wait: 30, done: []), peer: "N2") == .deferred)
        #expect(Self.handedOut(&h) == [])
        // n1 reports on its own (not in a pull): n2's parked pull is answered with b.
        h.value(.reportMany(nodeID: "n1", [Self.done("alice-a")]), peer: "N")
        #expect(Self.handedOut(&h) == ["alice-b"])
    }

    @Test func lostNodesCancelsAndHandBacksFreeTheirPlaces() {
        var h = Self.limited(["work": MethodPolicy(concurrency: 2)])
        h.setUp()
        for i in 1...6 { h.submit("t\(i)") }
        #expect(Self.pull(&h) == ["alice-t1", "alice-t2"])
        // Cancelled while running: one place.
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-t1"), peer: "C") == true)
        #expect(Self.pull(&h) == ["alice-t3"])
        // Handed back: its place again (the task queues first again).
        #expect(h.value(.release(nodeID: "n1", taskIDs: ["alice-t2"]), peer: "N") == 1)
        #expect(Self.pull(&h) == ["alice-t2"])
        // The node lost: both places, for the next node.
        h.value(.nodeDisconnect(nodeID: "n1"), peer: "N")
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        #expect(Self.pull(&h, "n2", peer: "N2").count == 2)
        #expect(Self.pull(&h, "n2", peer: "N2") == [])
    }

    @Test func aManifestLimitAdvertisedByTheNodeHoldsAndTheBrokerConfigurationWins() {
        var h = Harness()
        h.value(.clientConnect(clientID: "alice"), peer: "C")
        h.value(.nodeConnect(nodeID: "n1", methods: [["name": "work", "concurrency": 1]], workers: nil, capacity: nil, unavailable: [:]), peer: "N")
        for i in 1...4 { h.submit("t\(i)") }
        #expect(Self.pull(&h) == ["alice-t1"])
        let listed = h.value(.methods, peer: "C").arrayValue?.first { $0["name"] == "work" }
        #expect(listed?["concurrency"] == 1)
        #expect(listed?["running"] == 1)

        var c = Self.limited(["work": MethodPolicy(concurrency: 3)])
        c.value(.clientConnect(clientID: "alice"), peer: "C")
        c.value(.nodeConnect(nodeID: "n1", methods: [["name": "work", "concurrency": 1]], workers: nil, capacity: nil, unavailable: [:]), peer: "N")
        for i in 1...4 { c.submit("t\(i)") }
        #expect(Self.pull(&c).count == 3)
        #expect(c.value(.methods, peer: "C").arrayValue?.first { $0["name"] == "work" }?["concurrency"] == 3)
    }

    @Test func aBadAdvertisedLimitIsRefusedNamingTheField() {
        var h = Harness()
        let e = h.refusal(.nodeConnect(nodeID: "n1", methods: [["name": "work", "rate": "fast"]], workers: nil, capacity: nil, unavailable: [:]), peer: "N")
        #expect(e?.code == ErrorCode.invalidParams.rawValue)
        #expect(e?.message.contains("methods[0].rate") == true)
    }

    // MARK: rate

    @Test func rateTwoPerSecondGivesTheBurstThenOneEveryHalfSecond() throws {
        var h = Self.limited(["work": MethodPolicy(rate: try RateLimit("2/s", burst: 2, field: "rate"))])
        h.setUp()
        for i in 1...6 { h.submit("t\(i)") }
        #expect(Self.pull(&h) == ["alice-t1", "alice-t2"])
        h.now = 0.25
        #expect(Self.pull(&h) == [])
        // The broker knows when the next token is due, so its loop wakes then.
        #expect(h.state.nextDeadline == 0.5)
        h.now = 0.5
        #expect(Self.pull(&h) == ["alice-t3"])
        h.now = 0.9
        #expect(Self.pull(&h) == [])
        h.now = 1.0
        #expect(Self.pull(&h) == ["alice-t4"])
    }

    @Test func aParkedPullGetsARateLimitedTaskWhenItsTokenIsDue() throws {
        var h = Self.limited(["work": MethodPolicy(rate: try RateLimit("2/s", field: "rate"))])
        h.setUp()
        h.submit("a")
        h.submit("b")
        #expect(Self.pull(&h) == ["alice-a"])
        #expect(h.run(.pull(nodeID: "n1", max: 5, wait: 30, done: []), peer: "N") == .deferred)
        let due = try #require(h.state.nextDeadline)
        #expect(due == 0.5)
        h.now = 0.4
        h.state.tick(now: h.now)
        #expect(Self.handedOut(&h) == [])
        // Nobody asks again: the tick at the token's time hands b to the parked pull.
        h.now = due
        h.state.tick(now: h.now)
        #expect(Self.handedOut(&h) == ["alice-b"])
    }

    // MARK: tags

    @Test func aTaskThatRequiresTagsGoesOnlyToANodeWithAllOfThem() {
        var h = Harness()
        h.value(.clientConnect(clientID: "alice"), peer: "C")
        h.value(.nodeConnect(nodeID: "plain", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "P")
        h.value(.nodeConnect(nodeID: "gpu", methods: ["work"], workers: nil, capacity: nil, unavailable: [:], tags: ["eu", "gpu"]), peer: "G")
        h.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "g", tags: ["gpu"])), peer: "C")
        h.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "us", tags: ["gpu", "us"])), peer: "C")
        h.submit("any")
        // The plain node passes over the tagged tasks to the one it may run.
        #expect(Self.pull(&h, "plain", peer: "P") == ["alice-any"])
        #expect(Self.pull(&h, "gpu", peer: "G") == ["alice-g"])
        // No node has both gpu and us: it stays queued, not failed.
        #expect(h.status("alice-us") == .int(TaskStatus.queued.rawValue))
        let info = h.value(.clientTask(.info, clientID: "alice", taskID: "alice-us"), peer: "C")
        #expect(info["tags"] == ["gpu", "us"])
        // Until one connects.
        h.value(.nodeConnect(nodeID: "us", methods: ["work"], workers: nil, capacity: nil, unavailable: [:], tags: ["gpu", "us"]), peer: "U")
        #expect(Self.pull(&h, "us", peer: "U") == ["alice-us"])
    }

    @Test func aParkedPullOfANodeWithoutTheTagsIsNotGivenTheTask() {
        var h = Harness()
        h.value(.clientConnect(clientID: "alice"), peer: "C")
        h.value(.nodeConnect(nodeID: "plain", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "P")
        h.value(.nodeConnect(nodeID: "gpu", methods: ["work"], workers: nil, capacity: nil, unavailable: [:], tags: ["gpu"]), peer: "G")
        #expect(h.run(.pull(nodeID: "plain", max: 5, wait: 30, done: []), peer: "P") == .deferred)
        #expect(h.run(.pull(nodeID: "gpu", max: 5, wait: 30, done: []), peer: "G") == .deferred)
        _ = h.state.takeOutputs()
        h.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "g", tags: ["gpu"])), peer: "C")
        let replies = h.replies()
        #expect(replies.map { String(decoding: $0.0.peer, as: UTF8.self) } == ["G"])
        #expect(replies.flatMap { Harness.ids((try? $0.1.outcome.get()) ?? .null) } == ["alice-g"])
    }

    @Test func aSeedClaimOfATaggedTaskByANodeWithoutTheTagsGetsNothing() {
        var h = Harness()
        h.value(.clientConnect(clientID: "alice"), peer: "C")
        h.value(.nodeConnect(nodeID: "seed", methods: nil, workers: nil, capacity: nil, unavailable: [:]), peer: "S")
        h.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "g", tags: ["gpu"])), peer: "C")
        #expect(h.value(.claim(nodeID: nil, taskID: "alice-g"), peer: "S") == .object([:]))
    }

    // MARK: pause, resume, purge

    @Test func aPausedMethodAcceptsTasksButHandsOutNoneUntilResumed() {
        var h = Harness()
        h.setUp(methods: ["work", "other"])
        #expect(h.value(.adminQueue(method: "work", .pause), peer: "A") == ["method": "work", "paused": true, "queued": 0])
        h.submit("w1")
        h.submit("w2")
        h.submit("o1", method: "other")
        #expect(Self.pull(&h) == ["alice-o1"])
        #expect(h.value(.methods, peer: "C").arrayValue?.first { $0["name"] == "work" }?["paused"] == true)
        #expect(h.run(.pull(nodeID: "n1", max: 5, wait: 30, done: []), peer: "N") == .deferred)
        _ = h.state.takeOutputs()
        // Resumed: the parked pull gets the queued tasks at once.
        #expect(h.value(.adminQueue(method: "work", .resume), peer: "A")["paused"] == false)
        #expect(Self.handedOut(&h) == ["alice-w1", "alice-w2"])
    }

    @Test func purgeCancelsTheQueuedTasksOnlyAndCountsThem() {
        var h = Harness()
        h.setUp(workers: 1)
        for i in 1...4 { h.submit("t\(i)") }
        #expect(Self.pull(&h) == ["alice-t1"])
        let answer = h.value(.adminQueue(method: "work", .purge), peer: "A")
        #expect(answer["purged"] == 3)
        #expect(answer["queued"] == 0)
        #expect(h.status("alice-t1") == .int(TaskStatus.assigned.rawValue))
        for i in 2...4 {
            let info = h.value(.clientTask(.info, clientID: "alice", taskID: "alice-t\(i)"), peer: "C")
            #expect(info["error"]?["code"] == .int(ErrorCode.taskCancelled.rawValue))
        }
        #expect(h.state.queuedTaskCount == 0)
    }

    @Test func aQueueActionOnANameThatIsNoMethodIsRefused() {
        var h = Harness()
        #expect(h.refusal(.adminQueue(method: "no such", .pause), peer: "A")?.message.contains("not a valid method name") == true)
    }

    @Test func pausedMethodsAreJournaledAndRestored() {
        var h = Harness()
        h.state.journaling = true
        h.value(.adminQueue(method: "work", .pause), peer: "A")
        let changes = h.state.takeChanges()
        #expect(changes.pausedMethods == ["work"])
        #expect(h.state.takeChanges().pausedMethods == nil)

        var r = Harness()
        r.state.restore(StoreContents(tasks: [
            StoredTask(id: "alice-q", clientID: "alice", spec: TaskSpec(method: "work", params: [], tags: ["gpu"]), sequence: 1, created: 1),
        ], clients: [StoredClient(id: "alice", connected: true)], pausedMethods: ["work"]), now: 0)
        r.value(.nodeConnect(nodeID: "n1", methods: ["work"], workers: nil, capacity: nil, unavailable: [:], tags: ["gpu"]), peer: "N")
        #expect(Self.pull(&r) == [])
        r.value(.adminQueue(method: "work", .resume), peer: "A")
        #expect(Self.pull(&r) == ["alice-q"])
    }

    @Test func aLimitCountsTheTasksStillRunningAfterARestart() {
        var h = Self.limited(["work": MethodPolicy(concurrency: 1)])
        h.state.restore(StoreContents(tasks: [
            StoredTask(id: "alice-r", clientID: "alice", method: "work", params: [], sequence: 1, attempts: 1, status: .running, nodeID: "n1", created: 1),
            StoredTask(id: "alice-q", clientID: "alice", method: "work", params: [], sequence: 2, created: 1),
        ], clients: [StoredClient(id: "alice", connected: true)]), now: 0)
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        #expect(Self.pull(&h, "n2", peer: "N2") == [])
    }
}

extension BrokerStateLimitsTests {
    @Test func aSeedNodeHearsOfTheNextTaskWhenAPlaceFrees() {
        var h = Self.limited(["work": MethodPolicy(concurrency: 1)])
        h.value(.clientConnect(clientID: "alice"), peer: "C")
        h.value(.nodeConnect(nodeID: "s1", methods: nil, workers: nil, capacity: nil, unavailable: [:]), peer: "S1")
        h.value(.nodeConnect(nodeID: "s2", methods: nil, workers: nil, capacity: nil, unavailable: [:]), peer: "S2")
        h.submit("a")
        h.submit("b")
        #expect(h.value(.claim(nodeID: nil, taskID: "alice-a"), peer: "S1")["id"] == "alice-a")
        // At the limit: the other seed node's claim of b gets nothing.
        #expect(h.value(.claim(nodeID: nil, taskID: "alice-b"), peer: "S2") == .object([:]))
        _ = h.published()
        h.value(.report(nodeID: nil, Self.done("alice-a")), peer: "S1")
        #expect(h.published().contains { $0.contains("broker_new_task") && $0.contains("alice-b") })
        #expect(h.value(.claim(nodeID: nil, taskID: "alice-b"), peer: "S2")["id"] == "alice-b")
    }
}
