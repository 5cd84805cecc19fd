import Foundation
import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Where the features built apart meet (workflows, delays and retries, limits and queue
/// control, schedules, resends): typed commands, a clock the test moves, no sockets. Each test
/// drives one path across two features and checks that the broker's books balance after it:
/// params bytes pending, the client's pending count, queued and delayed counts.
@Suite struct BrokerStateInterplayTests {
    typealias Harness = BrokerStateTests.Harness

    /// Nodes never time out here: the clock jumps by more than `node_timeout`.
    static func harness(_ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        Harness {
            $0.nodeTimeout = 1e9
            configure(&$0)
        }
    }

    /// Nothing is pending any more: every book is back at zero.
    static func expectNothingPending(_ h: Harness, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(h.state.pendingBytes == 0, "pendingBytes", sourceLocation: sourceLocation)
        #expect(h.state.clients["alice"]?.pending == 0, "alice's pending count", sourceLocation: sourceLocation)
        #expect(h.state.queuedTaskCount == 0, "queued", sourceLocation: sourceLocation)
        #expect(h.state.delayedTaskCount == 0, "delayed", sourceLocation: sourceLocation)
    }

    static func cancelled(_ h: inout Harness, _ id: String) -> Bool {
        h.value(.clientTask(.info, clientID: "alice", taskID: id), peer: "C")["error"]?["code"] == .int(ErrorCode.taskCancelled.rawValue)
    }

    // MARK: purge

    /// Cancelling the first task of a group cancels the workflow, which cancels the second:
    /// the purge must not cancel (complete) the second a second time.
    @Test func purgingAWorkflowsTasksCancelsEachOnce() {
        var h = Self.harness()
        h.setUp()
        h.value(.adminQueue(method: "work", .pause), peer: "A")
        let group = BrokerStateWorkflowTests.workflow("group", [["work", [1]], ["work", [2]]])
        h.value(.newWorkflow(clientID: "alice", group, taskID: "wf"), peer: "C")
        let answer = h.value(.adminQueue(method: "work", .purge), peer: "A")
        #expect(answer["purged"] == 2)
        #expect(h.state.counters.failed == 3)  // two tasks and their workflow, once each
        Self.expectNothingPending(h)
    }

    /// A task cancelled while queued and retried by an admin is in its queue twice (the first
    /// entry went stale, then looked live again, as the queue kept another task): a purge
    /// cancels it once.
    @Test func purgingATaskAnAdminRetriedCancelsItOnce() {
        var h = Self.harness()
        h.setUp()
        h.value(.adminQueue(method: "work", .pause), peer: "A")
        h.submit("a")
        h.submit("b")
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C") == true)
        #expect(h.value(.adminAct(.retry, .ids(["alice-a"])), peer: "A")["retried"] == ["alice-a"])
        let answer = h.value(.adminQueue(method: "work", .purge), peer: "A")
        #expect(answer["purged"] == 2)
        #expect(h.state.counters.failed == 3)  // the client's cancel, then the purge of both
        Self.expectNothingPending(h)
    }

    /// Delayed tasks and tasks backing off before a retry show as queued: a purge cancels them
    /// too, and they never run after the method is resumed.
    @Test func purgeCancelsTheDelayedAndTheBackingOffTasksOfAPausedMethod() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("d", start: .after(60))), peer: "C")
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("r", retry: RetryPolicy(maxAttempts: 3, backoff: 30, jitter: 0))),
            peer: "C")
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-r"])
        BrokerStateDelayRetryTests.fail(&h, "alice-r", code: 17)
        #expect(h.state.delayedTaskCount == 2)
        h.value(.adminQueue(method: "work", .pause), peer: "A")
        let answer = h.value(.adminQueue(method: "work", .purge), peer: "A")
        #expect(answer["purged"] == 2)
        #expect(Self.cancelled(&h, "alice-d"))
        #expect(Self.cancelled(&h, "alice-r"))
        Self.expectNothingPending(h)
        h.value(.adminQueue(method: "work", .resume), peer: "A")
        h.now = 100
        h.state.tick(now: h.now)
        #expect(BrokerStateDelayRetryTests.pull(&h) == [])
    }

    /// A method's delayed tasks and the ones backing off count as queued in `admin_queue` and
    /// `methods`, as in `stats`, with `delayed` apart; they leave the count when they are due.
    @Test func delayedTasksCountAsQueuedForTheirMethod() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("d", start: .after(60))), peer: "C")
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("q")), peer: "C")
        var answer = h.value(.adminQueue(method: "work", .pause), peer: "A")
        #expect(answer["queued"] == 2 && answer["delayed"] == 1, "\(answer)")
        let listed = h.value(.methods, peer: "C").arrayValue?.first { $0["name"] == "work" }
        #expect(listed?["queued"] == 2 && listed?["delayed"] == 1, "\(String(describing: listed))")
        #expect(h.value(.stats, peer: "C")["queued"] == 2)
        h.now = 100
        h.state.tick(now: h.now)
        answer = h.value(.adminQueue(method: "work", .resume), peer: "A")
        #expect(answer["queued"] == 2 && answer["delayed"] == nil, "\(answer)")
        // A method no node serves, with only a delayed task, is listed with it.
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("later", method: "nobody.serves", start: .after(60))), peer: "C")
        let waiting = h.value(.methods, peer: "C").arrayValue?.first { $0["name"] == "nobody.serves" }
        #expect(waiting?["queued"] == 1 && waiting?["delayed"] == 1, "\(String(describing: waiting))")
    }

    // MARK: workflows with delays

    /// A workflow's step is a submission like any other: a delay past `max_delay` is refused,
    /// naming the step, and nothing is left behind.
    @Test func aWorkflowStepDelayedPastMaxDelayIsRefused() throws {
        var h = Self.harness { $0.maxDelay = 60 }
        h.setUp()
        let wf = try Workflow(kind: "chain", tasks: [
            ["method": "work", "params": [1]],
            ["method": "work", "params": [], "delay": 3600],
        ], callback: nil, method: "test")
        let e = h.refusal(.newWorkflow(clientID: "alice", wf, taskID: "wf"), peer: "C")
        #expect(e?.code == ErrorCode.invalidParams.rawValue)
        #expect(e?.message.contains("tasks[1]") == true && e?.message.contains("max_delay") == true)
        #expect(h.state.taskCount == 0)
        Self.expectNothingPending(h)
    }

    // MARK: admin retry

    /// A delayed task cancelled before its time and retried by an admin waits for its time again,
    /// as it does after a restart: it does not start at once.
    @Test func aDelayedTaskRetriedByAnAdminWaitsForItsTime() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("d", start: .after(60))), peer: "C")
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-d"), peer: "C") == true)
        #expect(h.value(.adminAct(.retry, .ids(["alice-d"])), peer: "A")["retried"] == ["alice-d"])
        #expect(h.state.delayedTaskCount == 1)
        #expect(BrokerStateDelayRetryTests.pull(&h) == [])
        h.now = 60
        h.state.tick(now: h.now)
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-d"])
    }

    // MARK: resends

    /// A client that failed over resends a task it submitted: its id comes back, even once the
    /// method's plugin is quarantined on every node (the task is still there, queued).
    @Test func aResendIsAnsweredWithItsIDWhenTheMethodBecameUnavailable() {
        var h = Self.harness()
        h.setUp()
        h.submit("a")
        let why: JSONValue = ["name": "work", "plugin": "work", "file": "Plugins/work.so", "reason": "crashed while loading"]
        h.value(.advertise(nodeID: "n1", methods: [:], workers: nil, capacity: nil, unavailable: ["work": why], tags: nil), peer: "N")
        #expect(h.state.unavailableError("work") != nil)
        let again = Submission(method: "work", params: [], taskID: "a")
        #expect(h.run(.submit(clientID: "alice", again), peer: "C") == .reply(.id("alice-a")))
        #expect(h.state.counters.submitted == 1)
        // A new task of the method is refused as before.
        #expect(h.refusal(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "b")), peer: "C")?.code
            == ErrorCode.methodNotFound.rawValue)
    }

    // MARK: a workflow cancelled as a whole

    /// One task running under its method's concurrency, one backing off before a retry, one in a
    /// paused queue, one delayed and tagged: cancelling the workflow cancels them all, and every
    /// book balances (the running task's place is free again).
    @Test func cancellingAWorkflowCancelsTasksInEveryStateAndFreesTheirPlaces() throws {
        var h = Self.harness { $0.methodPolicies = ["work": MethodPolicy(concurrency: 1)] }
        h.setUp(methods: ["work", "held"])
        h.value(.adminQueue(method: "held", .pause), peer: "A")
        let wf = try Workflow(kind: "group", tasks: [
            ["method": "work", "params": [1], "retry": ["max_attempts": 3, "backoff": 30, "jitter": 0]],
            ["method": "work", "params": [2]],
            ["method": "held", "params": [3]],
            ["method": "work", "params": [4], "delay": 60, "tags": ["gpu"]],
        ], callback: nil, method: "test")
        h.value(.newWorkflow(clientID: "alice", wf, taskID: "wf"), peer: "C")
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-wf.1"])
        BrokerStateDelayRetryTests.fail(&h, "alice-wf.1", code: 17)
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-wf.2"])
        #expect(h.state.delayedTaskCount == 2)
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-wf"), peer: "C") == true)
        for i in 1...4 { #expect(Self.cancelled(&h, "alice-wf.\(i)"), "alice-wf.\(i)") }
        #expect(h.state.workflowOf.isEmpty)
        Self.expectNothingPending(h)
        h.submit("next")
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-next"])
        h.now = 100
        h.state.tick(now: h.now)
        h.value(.report(nodeID: "n1", .init(taskID: "alice-next", outcome: .success(1))), peer: "N")
        #expect(BrokerStateDelayRetryTests.pull(&h) == [])
    }

    // MARK: restart

    /// A group with one task running under its method's concurrency and one delayed, restarted
    /// from SQLite: the books come back as they were, the limit counts the running task, the
    /// delayed one waits out its time, and the workflow finishes.
    @Test func aWorkflowWithARunningAndADelayedTaskCarriesOnAfterARestart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zt-interplay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.sqlite"
        let policies = ["work": MethodPolicy(concurrency: 1)]
        var h = Self.harness { $0.methodPolicies = policies }
        h.state.journaling = true
        h.setUp()
        let wf = try Workflow(kind: "group", tasks: [
            ["method": "work", "params": [1]],
            ["method": "work", "params": [2], "delay": 60],
        ], callback: nil, method: "test")
        h.value(.newWorkflow(clientID: "alice", wf, taskID: "wf"), peer: "C")
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-wf.1"])
        do {
            let store = try SQLiteTaskStore(path: path)
            try store.write(h.state.takeChanges())
            store.close()
        }
        let store = try SQLiteTaskStore(path: path)
        defer { store.close() }
        var config = BrokerConfig()
        config.nodeTimeout = 1e9
        config.methodPolicies = policies
        // 10 s later on the wall clock, in a new process (its monotonic clock starts again).
        var r = Harness { $0 = config }
        r.state = BrokerState(config: config, wallClock: { BrokerStateDelayRetryTests.wall + 10 }, idPrefix: "y.")
        r.state.restore(try store.load(), now: 1000)
        r.now = 1000
        // (pendingBytes is not compared: a workflow's record counts its params as they were when
        // it was loaded, children and results included, so it counts more after a restart.)
        #expect(r.state.clients["alice"]?.pending == 3)
        #expect(r.state.delayedTaskCount == 1)
        #expect(r.state.workflowOf == ["alice-wf.1": "alice-wf", "alice-wf.2": "alice-wf"])
        r.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: 0, capacity: nil, unavailable: [:]), peer: "N2")
        r.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "other")), peer: "C")
        // The limit counts wf.1, still running on n1.
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "N2")) == [])
        r.value(.nodeConnect(nodeID: "n1", methods: ["work"], workers: 0, capacity: nil, unavailable: [:]), peer: "N")
        r.value(.report(nodeID: "n1", .init(taskID: "alice-wf.1", outcome: .success(1))), peer: "N")
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "N2")) == ["alice-other"])
        r.value(.report(nodeID: "n2", .init(taskID: "alice-other", outcome: .success(0))), peer: "N2")
        r.now = 1049.9
        r.state.tick(now: r.now)
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "N2")) == [])
        r.now = 1050
        r.state.tick(now: r.now)
        #expect(Harness.ids(r.value(.pull(nodeID: "n2", max: 10, wait: nil, done: []), peer: "N2")) == ["alice-wf.2"])
        r.value(.report(nodeID: "n2", .init(taskID: "alice-wf.2", outcome: .success(2))), peer: "N2")
        #expect(r.run(.clientTask(.result, clientID: "alice", taskID: "alice-wf"), peer: "C") == .reply(.value([1, 2])))
        Self.expectNothingPending(r)
    }

    // MARK: delays under limits

    /// A delayed task that comes due while its method is at its concurrency, and one that comes
    /// due while its method is paused, wait in their queues; each goes to the parked pull as soon
    /// as its method lets it (a place frees, the method is resumed).
    @Test func aDelayedTaskDueWhileItsMethodIsFullOrPausedGoesWhenItMayStart() {
        var h = Self.harness { $0.methodPolicies = ["work": MethodPolicy(concurrency: 1)] }
        h.setUp(methods: ["work", "held"])
        h.value(.adminQueue(method: "held", .pause), peer: "A")
        h.submit("running")
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("d", start: .after(10))), peer: "C")
        h.value(.submit(clientID: "alice", BrokerStateDelayRetryTests.submission("p", method: "held", start: .after(10))), peer: "C")
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-running"])
        h.now = 10
        h.state.tick(now: h.now)
        #expect(h.state.delayedTaskCount == 0 && h.state.queuedTaskCount == 2)
        #expect(h.run(.pull(nodeID: "n1", max: 5, wait: 30, done: []), peer: "N") == .deferred)
        _ = h.state.takeOutputs()
        h.value(.reportMany(nodeID: "n1", [.init(taskID: "alice-running", outcome: .success(1))]), peer: "N")
        #expect(BrokerStateLimitsTests.handedOut(&h) == ["alice-d"])
        #expect(h.run(.pull(nodeID: "n1", max: 5, wait: 30, done: []), peer: "N") == .deferred)
        h.value(.adminQueue(method: "held", .resume), peer: "A")
        #expect(BrokerStateLimitsTests.handedOut(&h) == ["alice-p"])
    }

    // MARK: schedules into a paused method

    /// A paused method still gets its schedule's ticks, queued (a tick is not lost for a pause);
    /// a purge cancels them, and the schedule carries on with the next tick.
    @Test func aScheduleTicksIntoAPausedMethodAndAPurgeCancelsItsTasks() {
        var b = BrokerStateScheduleTests.Broker()
        b.add(BrokerStateScheduleTests.every("s", 10))
        _ = b.state.apply(.adminQueue(method: "math.add", .pause), route: Harness.route("A", id: 1), now: b.now)
        b.advance(10)
        b.advance(10)
        #expect(b.scheduledTaskIDs.count == 2)
        #expect(b.state.queuedTaskCount == 2)
        let purged = b.state.apply(.adminQueue(method: "math.add", .purge), route: Harness.route("A", id: 2), now: b.now)
        #expect(purged == .reply(.document(["method": "math.add", "paused": true, "queued": 0, "purged": 2])))
        #expect(b.state.pendingBytes == 0 && b.state.queuedTaskCount == 0)
        b.advance(10)
        #expect(b.scheduledTaskIDs.count == 3)
        #expect(b.state.queuedTaskCount == 1)
    }
}
