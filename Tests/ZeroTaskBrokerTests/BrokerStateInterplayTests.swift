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
        #expect(h.run(.submit(clientID: "alice", again), peer: "C") == .result("alice-a"))
        #expect(h.state.counters.submitted == 1)
        // A new task of the method is refused as before.
        #expect(h.refusal(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "b")), peer: "C")?.code
            == ErrorCode.methodNotFound.rawValue)
    }
}
