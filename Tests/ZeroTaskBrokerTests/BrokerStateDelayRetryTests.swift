import Foundation
import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Delayed tasks and retries after application errors, on the broker's rules alone: typed
/// commands, a monotonic clock the test moves (the harness's wall clock stands at 1.8e9), and a
/// real SQLite file for the restart.
@Suite struct BrokerStateDelayRetryTests {
    typealias Harness = BrokerStateTests.Harness
    static let wall: WallInstant = 1_800_000_000

    /// Nodes never time out here: the clock jumps by more than `node_timeout` between pulls.
    static func harness(_ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        Harness {
            $0.nodeTimeout = 1e9
            configure(&$0)
        }
    }

    static func submission(_ id: String, method: String = "work", start: SubmissionStart? = nil, retry: RetryPolicy? = nil)
        -> Submission
    {
        var s = Submission(method: method, params: [], taskID: id)
        s.start = start
        s.spec.retry = retry
        return s
    }

    static func pull(_ h: inout Harness, max: Int = 10) -> [String] {
        Harness.ids(h.value(.pull(nodeID: "n1", max: max, wait: nil, done: []), peer: "N"))
    }

    static func fail(_ h: inout Harness, _ id: String, code: Int64, _ message: String = "boom") {
        h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .failure(RPCError(code: code, message: message)))), peer: "N")
    }

    static func info(_ h: inout Harness, _ id: String) -> JSONValue {
        h.value(.clientTask(.info, clientID: "alice", taskID: id), peer: "C")
    }

    /// A method described as a node advertises it, with the manifest's retry policy.
    static func method(_ name: String, retry: JSONValue?) -> JSONValue {
        var o: JSONObject = ["name": .string(name)]
        if let retry { o["retry"] = retry }
        return .object(o)
    }

    // MARK: delays

    @Test func aDelayedTaskIsNotPulledBeforeItsTimeAndShowsAsQueuedWithIt() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", Self.submission("d", start: .after(10))), peer: "C")
        h.submit("now")
        #expect(Self.pull(&h) == ["alice-now"])
        let info = Self.info(&h, "alice-d")
        #expect(info["state"] == "queued")
        #expect(info["not_before"]?.doubleValue == (Self.wall + 10).seconds)
        #expect(info["delayed"] == true)
        #expect(h.state.statsSummary()["queued"] == 1)
        #expect(h.state.statsSummary()["delayed"] == 1)
        // The loop's poll wakes when it is due, not a poll interval later.
        #expect(h.state.nextDeadline == 10)
        h.now = 9.999
        h.state.tick(now: h.now)
        #expect(Self.pull(&h).isEmpty)
        h.now = 10
        h.state.tick(now: h.now)
        let metrics = TaskObserverBatchTests.Log()
        h.state.observer = metrics
        #expect(Self.pull(&h) == ["alice-d"])
        // Its queue wait counts from its not_before, not from its submission.
        #expect(metrics.lines == ["started work 0.0"])
        #expect(Self.info(&h, "alice-d")["delayed"] == nil)
        #expect(h.state.delayedTaskCount == 0)
    }

    @Test func anAbsoluteNotBeforeWaitsUntilThatWallClockTimeAndOneInThePastRunsAtOnce() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", Self.submission("later", start: .at(Self.wall + 30))), peer: "C")
        h.value(.submit(clientID: "alice", Self.submission("past", start: .at(Self.wall - 30))), peer: "C")
        #expect(Self.pull(&h) == ["alice-past"])
        h.now = 29
        h.state.tick(now: h.now)
        #expect(Self.pull(&h).isEmpty)
        h.now = 30
        h.state.tick(now: h.now)
        #expect(Self.pull(&h) == ["alice-later"])
    }

    @Test func aDueTaskGoesStraightToAParkedPull() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", Self.submission("d", start: .after(5))), peer: "C")
        #expect(h.run(.pull(nodeID: "n1", max: 4, wait: 30, done: []), peer: "N") == .deferred)
        h.now = 5
        h.state.tick(now: h.now)
        let replies = h.replies()
        #expect(replies.count == 1)
        #expect(Harness.ids((try? replies.first?.1.outcome.get()) ?? .null) == ["alice-d"])
    }

    @Test func aTaskCancelledWhileDelayedNeverRuns() {
        var h = Self.harness()
        h.setUp()
        h.value(.submit(clientID: "alice", Self.submission("d", start: .after(10))), peer: "C")
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-d"), peer: "C") == true)
        #expect(h.status("alice-d") == .int(TaskStatus.failed.rawValue))
        #expect(h.state.delayedTaskCount == 0)
        #expect(h.state.statsSummary()["queued"] == 0)
        h.now = 11
        h.state.tick(now: h.now)
        #expect(Self.pull(&h).isEmpty)
        #expect(h.state.queuedTaskCount == 0)
        // Nor may a seed node claim it by id while it waits.
        h.value(.submit(clientID: "alice", Self.submission("e", start: .after(10))), peer: "C")
        #expect(h.value(.claim(nodeID: "n1", taskID: "alice-e"), peer: "N") == .object([:]))
    }

    @Test func aDelayPastMaxDelayIsRefusedNamingTheParamAndTheSetting() {
        var h = Self.harness { $0.maxDelay = 100 }
        h.setUp()
        let e = h.refusal(.submit(clientID: "alice", Self.submission("d", start: .after(101))), peer: "C")
        #expect(e?.code == -32602)
        #expect(e?.message.contains("\"delay\"") == true && e?.message.contains("max_delay") == true)
        let at = h.refusal(.call(clientID: "alice", Self.submission("c", start: .at(Self.wall + 500)), wait: 1), peer: "C")
        #expect(at?.message.contains("client_call: param \"not_before\"") == true)
        h.value(.submit(clientID: "alice", Self.submission("ok", start: .after(100))), peer: "C")
        #expect(h.state.delayedTaskCount == 1)
    }

    @Test func theDecoderReadsDelayNotBeforeAndRetryAndRefusesBoth() throws {
        let both = Params.named(["client_id": "a", "method": "m", "params": [], "not_before": 1_800_000_000, "delay": 5])
        #expect(throws: RPCError.self) { try BrokerCommand(.clientNewTask, both) }
        do {
            _ = try BrokerCommand(.clientNewTask, both)
        } catch {
            #expect(error.message.contains("\"not_before\" and \"delay\""))
        }
        let named = Params.named([
            "client_id": "a", "method": "m", "params": [], "delay": 2.5,
            "retry": ["max_attempts": 4, "backoff": 0.5, "codes": [17]],
        ])
        guard case .submit(_, let s) = try BrokerCommand(.clientNewTask, named) else { Issue.record("not a submit"); return }
        #expect(s.start == .after(2.5))
        #expect(s.spec.retry == RetryPolicy(maxAttempts: 4, backoff: 0.5, codes: [17]))
        // After `wait` for client_call, so its older positional form keeps its meaning.
        guard case .call(_, let c, let wait) = try BrokerCommand(.clientCall, .positional(["a", "m", [], .null, .null, .null, .null, .null, 3, 1_800_000_000]))
        else { Issue.record("not a call"); return }
        #expect(wait == 3 && c.start == .at(1_800_000_000))
        for (params, needle) in [
            (Params.named(["client_id": "a", "method": "m", "params": [], "not_before": "tomorrow"]), "\"not_before\" must be a number"),
            (Params.named(["client_id": "a", "method": "m", "params": [], "delay": -1]), "\"delay\""),
            (Params.named(["client_id": "a", "method": "m", "params": [], "retry": ["max_attempts": 0]]), "\"retry.max_attempts\""),
            (Params.named(["client_id": "a", "method": "m", "params": [], "retry": ["tries": 2]]), "\"retry.tries\""),
        ] {
            do {
                _ = try BrokerCommand(.clientNewTask, params)
                Issue.record("\(params) was accepted")
            } catch {
                #expect(error.code == -32602 && error.message.contains(needle), "\(error.message)")
            }
        }
        let entries = Params.named(["client_id": "a", "tasks": [["method": "m", "params": [], "delay": 1, "not_before": 2]]])
        guard case .submitMany(_, let list) = try BrokerCommand(.clientNewTasks, entries) else { Issue.record("not many"); return }
        if case .failure(let e) = list.first { #expect(e.message.contains("tasks[0]")) } else { Issue.record("entry accepted") }
    }

    // MARK: retries

    @Test func anApplicationErrorIsRetriedAfterTheBackOffAndTheHistoryKeepsEachFailedAttempt() {
        var h = Self.harness()
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 3, "backoff": 5, "factor": 2, "jitter": 0])])
        h.submit("t")
        #expect(Self.pull(&h) == ["alice-t"])
        Self.fail(&h, "alice-t", code: 17, "first")
        var info = Self.info(&h, "alice-t")
        #expect(info["state"] == "queued")
        #expect(info["delayed"] == true)
        #expect(info["not_before"]?.doubleValue == (Self.wall + 5).seconds)
        #expect(info["history"]?.arrayValue?.count == 1)
        let first = info["history"]?.arrayValue?.first
        #expect(first?["attempt"] == 1)
        #expect(first?["node_id"] == "n1")
        #expect(first?["error"]?["message"] == "first")
        #expect(h.state.statsSummary()["retried_total"] == 1)
        // The node's slot is free again, and the task waits out its back-off.
        #expect(h.state.nodes["n1"]?.assigned.isEmpty == true)
        h.now = 4.9
        h.state.tick(now: h.now)
        #expect(Self.pull(&h).isEmpty)
        h.now = 5
        h.state.tick(now: h.now)
        #expect(Self.pull(&h) == ["alice-t"])
        Self.fail(&h, "alice-t", code: 17, "second")
        // The second back-off is twice the first.
        h.now = 14.9
        h.state.tick(now: h.now)
        #expect(Self.pull(&h).isEmpty)
        h.now = 15
        h.state.tick(now: h.now)
        #expect(Self.pull(&h) == ["alice-t"])
        h.value(.report(nodeID: "n1", .init(taskID: "alice-t", outcome: .success(42))), peer: "N")
        info = Self.info(&h, "alice-t")
        #expect(info["state"] == "finished")
        #expect(info["attempts"] == 3)
        #expect(info["history"]?.arrayValue?.compactMap { $0["error"]?["message"]?.stringValue } == ["first", "second"])
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-t"), peer: "C") == 42)
    }

    @Test func exhaustedRetriesFailWithTheLastErrorAndKeepEveryAttempt() {
        var h = Self.harness()
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 3, "backoff": 0, "jitter": 0])])
        let metrics = TaskObserverBatchTests.Log()
        h.state.observer = metrics
        h.submit("t")
        for n in 1...3 {
            #expect(Self.pull(&h) == ["alice-t"], "attempt \(n)")
            Self.fail(&h, "alice-t", code: 17, "failure \(n)")
        }
        let info = Self.info(&h, "alice-t")
        #expect(info["state"] == "failed")
        #expect(info["error"]?["message"] == "failure 3")
        #expect(info["history"]?.arrayValue?.compactMap { $0["attempt"]?.int64Value } == [1, 2, 3])
        // zerotask_tasks_retried_total counts the two retries; the task fails once.
        #expect(metrics.lines.filter { $0 == "retried work" }.count == 2)
        #expect(metrics.lines.filter { $0.hasPrefix("failed work") }.count == 1)
        guard case .error(let e) = h.run(.clientTask(.result, clientID: "alice", taskID: "alice-t"), peer: "C") else {
            Issue.record("no error")
            return
        }
        #expect(e.code == 17 && e.message == "failure 3")
        // The admin's view shows the attempts in its timeline.
        let detail = h.state.adminDetail(h.state.tasks["alice-t"]!)
        #expect(detail["timeline"]?.arrayValue?.filter { $0["event"]?.stringValue?.hasPrefix("attempt ") == true }.count == 3)
    }

    /// A task backing off before its retry does not hold its method's concurrency place: with
    /// `concurrency: 1`, the next task starts while the first waits for its retry.
    @Test func aTaskBackingOffFreesItsConcurrencyPlace() {
        var h = Self.harness { $0.methodPolicies = ["work": MethodPolicy(concurrency: 1)] }
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 3, "backoff": 60, "jitter": 0])])
        h.submit("a")
        h.submit("b")
        #expect(Self.pull(&h) == ["alice-a"])
        #expect(Self.pull(&h) == [])  // at its concurrency
        Self.fail(&h, "alice-a", code: 17)
        #expect(Self.info(&h, "alice-a")["delayed"] == true)
        #expect(Self.pull(&h) == ["alice-b"])
        h.value(.report(nodeID: "n1", .init(taskID: "alice-b", outcome: .success(1))), peer: "N")
        h.now += 61
        h.state.tick(now: h.now)
        #expect(Self.pull(&h) == ["alice-a"])
    }

    @Test func aCodeThePolicyDoesNotNameFailsAtOnce() {
        var h = Self.harness()
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 5, "backoff": 0, "codes": [17]])])
        h.submit("t")
        _ = Self.pull(&h)
        Self.fail(&h, "alice-t", code: 18)
        let info = Self.info(&h, "alice-t")
        #expect(info["state"] == "failed")
        #expect(info["history"] == nil)
        // ZeroTask's own errors (a timeout here) are not the plugin's: not retried unless listed.
        var g = Self.harness()
        g.setUp(methods: [Self.method("work", retry: ["max_attempts": 5, "backoff": 0])])
        g.submit("t")
        _ = Self.pull(&g)
        Self.fail(&g, "alice-t", code: -32060, "timed out")
        #expect(Self.info(&g, "alice-t")["state"] == "failed")
    }

    @Test func aTasksOwnPolicyOverridesTheMethodsAndNoPolicyMeansOneAttempt() {
        var h = Self.harness()
        h.setUp(methods: ["work", Self.method("strict", retry: ["max_attempts": 5, "backoff": 0])])
        h.value(.submit(clientID: "alice", Self.submission("own", retry: RetryPolicy(maxAttempts: 2, backoff: 0, jitter: 0))), peer: "C")
        h.submit("plain")
        h.value(.submit(clientID: "alice", Self.submission("once", method: "strict", retry: RetryPolicy(maxAttempts: 1))), peer: "C")
        #expect(Set(Self.pull(&h)) == ["alice-own", "alice-plain", "alice-once"])
        for id in ["own", "plain", "once"] { Self.fail(&h, "alice-\(id)", code: 1) }
        #expect(Self.info(&h, "alice-own")["state"] == "queued")
        #expect(Self.info(&h, "alice-plain")["state"] == "failed")
        #expect(Self.info(&h, "alice-once")["state"] == "failed")
        #expect(Self.pull(&h) == ["alice-own"])
        Self.fail(&h, "alice-own", code: 1)
        #expect(Self.info(&h, "alice-own")["state"] == "failed")
    }

    @Test func retriedRunsDoNotUseUpTheRetriesForCrashes() {
        var h = Self.harness { $0.maxRetries = 1 }
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 4, "backoff": 0])])
        h.submit("t")
        for _ in 1...3 {
            _ = Self.pull(&h)
            Self.fail(&h, "alice-t", code: 17)
        }
        // Attempt 4 crashes its worker: max_retries 1 still allows one more run.
        _ = Self.pull(&h)
        Self.fail(&h, "alice-t", code: ErrorCode.workerCrashed.rawValue, "worker crashed")
        #expect(Self.info(&h, "alice-t")["state"] == "queued")
    }

    @Test func aCancelledTaskWaitingForItsRetryNeverRunsAgain() {
        var h = Self.harness()
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 3, "backoff": 10])])
        h.submit("t")
        _ = Self.pull(&h)
        Self.fail(&h, "alice-t", code: 17)
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-t"), peer: "C") == true)
        h.now = 100
        h.state.tick(now: h.now)
        #expect(Self.pull(&h).isEmpty)
        #expect(Self.info(&h, "alice-t")["error"]?["code"] == .int(ErrorCode.taskCancelled.rawValue))
    }

    // MARK: durability

    @Test func delayedTasksAndHistoriesSurviveARestartOnSQLite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zt-delay-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.sqlite"
        var h = Self.harness()
        h.state.journaling = true
        h.setUp(methods: [Self.method("work", retry: ["max_attempts": 3, "backoff": 60, "jitter": 0])])
        h.value(.submit(clientID: "alice", Self.submission("d", start: .after(100))), peer: "C")
        h.value(.submit(clientID: "alice", Self.submission("own", retry: RetryPolicy(maxAttempts: 2, backoff: 1, codes: [5]))), peer: "C")
        h.submit("r")
        #expect(Set(Self.pull(&h)) == ["alice-own", "alice-r"])
        Self.fail(&h, "alice-r", code: 17, "went wrong")
        do {
            let store = try SQLiteTaskStore(path: path)
            try store.write(h.state.takeChanges())
            store.close()
        }
        // 40 s later on the wall clock, in a new process (its monotonic clock starts again).
        let store = try SQLiteTaskStore(path: path)
        defer { store.close() }
        let loaded = try store.load()
        #expect(loaded.tasks.first { $0.id == "alice-own" }?.retry == RetryPolicy(maxAttempts: 2, backoff: 1, codes: [5]))
        var config = BrokerConfig()
        config.nodeTimeout = 1e9  // n1, awaiting reconnection with alice-own, keeps it
        var again = BrokerState(config: config, wallClock: { Self.wall + 40 }, idPrefix: "y.")
        again.restore(loaded, now: 1000)
        #expect(again.delayedTaskCount == 2)
        #expect(again.tasks["alice-d"]?.notBefore == Self.wall + 100)
        #expect(again.tasks["alice-r"]?.history.map(\.error.message) == ["went wrong"])
        #expect(again.tasks["alice-r"]?.history.first?.nodeID == "n1")
        #expect(again.tasks["alice-own"]?.spec.retry?.codes == [5])
        _ = again.apply(.nodeConnect(nodeID: "n2", methods: ["work"], workers: 0, capacity: nil, unavailable: [:]),
            route: Harness.route("N2", id: 1), now: 1000)
        func pulled(_ s: inout BrokerState, _ now: MonotonicInstant) -> [String] {
            s.tick(now: now)
            guard case .reply(.assignments(let got)) = s.apply(.pull(nodeID: "n2", max: 10, wait: nil, done: []), route: Harness.route("N2", id: 2), now: now)
            else { return [] }
            return got.map(\.id)
        }
        // Due 60 s after the failure (at wall + 60: 20 s on), and the delayed one at wall + 100 (60 s on).
        #expect(pulled(&again, 1019.9).isEmpty)
        #expect(pulled(&again, 1020) == ["alice-r"])
        #expect(pulled(&again, 1059.9).isEmpty)
        #expect(pulled(&again, 1060) == ["alice-d"])
    }
}

/// Delays and retries on a workflow's steps.
@Suite struct BrokerStateWorkflowDelayRetryTests {
    typealias Harness = BrokerStateTests.Harness

    @Test func aChainsStepIsRetriedAndDelayedAndTheChainCarriesOn() throws {
        var h = BrokerStateDelayRetryTests.harness()
        h.setUp(methods: ["work"])
        let wf = try Workflow(kind: "chain", tasks: [
            ["method": "work", "params": [1], "retry": ["max_attempts": 2, "backoff": 0]],
            ["method": "work", "params": [], "delay": 30],
        ], callback: nil, method: "test")
        #expect(h.value(.newWorkflow(clientID: "alice", wf, taskID: "wf"), peer: "C") == "alice-wf")
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-wf.1"])
        BrokerStateDelayRetryTests.fail(&h, "alice-wf.1", code: 17)
        // Retried, not the end of the chain.
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-wf.1"])
        h.value(.report(nodeID: "n1", .init(taskID: "alice-wf.1", outcome: .success(5))), peer: "N")
        // The next step waits out its own delay, counted from when it was submitted.
        #expect(BrokerStateDelayRetryTests.pull(&h).isEmpty)
        #expect(BrokerStateDelayRetryTests.info(&h, "alice-wf.2")["delayed"] == true)
        h.now = 30
        h.state.tick(now: h.now)
        #expect(BrokerStateDelayRetryTests.pull(&h) == ["alice-wf.2"])
        h.value(.report(nodeID: "n1", .init(taskID: "alice-wf.2", outcome: .success(6))), peer: "N")
        #expect(h.run(.clientTask(.result, clientID: "alice", taskID: "alice-wf"), peer: "C") == .reply(.value(6)))
    }
}
