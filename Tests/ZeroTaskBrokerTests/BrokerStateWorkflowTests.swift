import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Workflows on the broker's rules (typed commands, a made-up clock): chains pass each result
/// on, groups gather theirs, a callback gets them all, a failure or a cancel ends the whole.
@Suite struct BrokerStateWorkflowTests {
    typealias Harness = BrokerStateTests.Harness

    static func workflow(_ kind: String, _ tasks: [JSONValue], callback: JSONValue? = nil) -> Workflow {
        try! Workflow(kind: kind, tasks: tasks, callback: callback, method: "test")
    }

    /// Starts a workflow for alice under the id `name`.
    @discardableResult
    static func start(_ h: inout Harness, _ workflow: Workflow, _ name: String = "wf") -> JSONValue {
        h.value(.newWorkflow(clientID: "alice", workflow, taskID: name), peer: "C")
    }

    /// What n1 pulls now: (task id, params) pairs.
    static func pull(_ h: inout Harness, max: Int = 10) -> [(String, JSONValue)] {
        (h.value(.pull(nodeID: "n1", max: max, wait: nil, done: []), peer: "N").arrayValue ?? []).map {
            ($0["id"]?.stringValue ?? "", $0["params"] ?? .null)
        }
    }

    static func finish(_ h: inout Harness, _ id: String, _ result: JSONValue) {
        h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(result))), peer: "N")
    }

    static func fail(_ h: inout Harness, _ id: String, _ error: RPCError) {
        h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .failure(error))), peer: "N")
    }

    static func outcome(_ h: inout Harness, _ id: String = "alice-wf") -> BrokerAnswer {
        h.run(.clientTask(.result, clientID: "alice", taskID: id), peer: "C")
    }

    @Test func aChainPassesEachResultOnAsTheFirstParamAndEndsWithTheLast() {
        var h = Harness()
        h.setUp(methods: ["math.add", "math.mul"])
        let id = Self.start(&h, Self.workflow("chain", [["math.add", [1, 2]], ["math.mul", [10]], ["math.add", []]]))
        #expect(id == "alice-wf")
        #expect(h.status("alice-wf") == .int(TaskStatus.running.rawValue))
        // One step at a time: only the first is queued.
        var pulled = Self.pull(&h)
        #expect(pulled.map(\.0) == ["alice-wf.1"])
        #expect(pulled.first?.1 == [1, 2])
        Self.finish(&h, "alice-wf.1", 3)
        pulled = Self.pull(&h)
        #expect(pulled.map(\.0) == ["alice-wf.2"])
        #expect(pulled.first?.1 == [3, 10])
        Self.finish(&h, "alice-wf.2", 30)
        pulled = Self.pull(&h)
        #expect(pulled.first?.1 == [30])
        #expect(Self.outcome(&h) == .error(RPCError(.taskNotComplete, "task \"alice-wf\" is not complete (running)")))
        Self.finish(&h, "alice-wf.3", 31)
        #expect(Self.outcome(&h) == .reply(.value(31)))
        let info = h.value(.clientTask(.info, clientID: "alice", taskID: "alice-wf"), peer: "C")
        #expect(info["method"] == "zerotask.workflow")
        #expect(info["workflow"]?["kind"] == "chain")
        #expect(info["workflow"]?["task_ids"] == ["alice-wf.1", "alice-wf.2", "alice-wf.3"])
        // Each step is the client's own task too, with its own result.
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-wf.2"), peer: "C") == 30)
    }

    @Test func aFailingStepStopsTheChainWithThatStepsError() {
        var h = Harness()
        h.setUp(methods: ["work"])
        Self.start(&h, Self.workflow("chain", [["work", []], ["work", []], ["work", []]]))
        Self.finish(&h, Self.pull(&h)[0].0, 1)
        let second = Self.pull(&h)[0].0
        Self.fail(&h, second, RPCError(code: 7, message: "division by zero", data: ["param": "b"]))
        guard case .error(let e) = Self.outcome(&h) else {
            Issue.record("the chain did not fail")
            return
        }
        #expect(e.code == 7)
        #expect(e.message.contains("chain task 2 of 3 (work) failed: division by zero"), "\(e.message)")
        #expect(e.data?["step"] == 2)
        #expect(e.data?["cause"]?["param"] == "b")
        // The third step never ran.
        #expect(h.state.tasks["alice-wf.3"] == nil)
        #expect(Self.pull(&h).isEmpty)
    }

    @Test func aGroupRunsAtOnceAndGathersItsResultsInOrder() {
        var h = Harness()
        h.setUp(methods: ["work"])
        Self.start(&h, Self.workflow("group", [["work", [1]], ["work", [2]], ["work", [3]]]))
        let pulled = Self.pull(&h)
        #expect(pulled.map(\.0) == ["alice-wf.1", "alice-wf.2", "alice-wf.3"])
        // Finished out of order, gathered in order; a null result is a result too.
        Self.finish(&h, "alice-wf.3", 30)
        Self.finish(&h, "alice-wf.1", .null)
        #expect(h.status("alice-wf") == .int(TaskStatus.running.rawValue))
        Self.finish(&h, "alice-wf.2", 20)
        #expect(Self.outcome(&h) == .reply(.value([.null, 20, 30])))
    }

    @Test func aGroupsCallbackGetsAllResultsFirstAndGivesTheWorkflowsResult() {
        var h = Harness()
        h.setUp(methods: ["work", "stats.sum"])
        Self.start(&h, Self.workflow("group", [["work", []], ["work", []]], callback: ["stats.sum", ["extra"]]))
        for (id, _) in Self.pull(&h) { Self.finish(&h, id, .int(id.hasSuffix(".1") ? 1 : 2)) }
        let callback = Self.pull(&h)
        #expect(callback.map(\.0) == ["alice-wf.callback"])
        #expect(callback.first?.1 == [[1, 2], "extra"])
        Self.finish(&h, "alice-wf.callback", 3)
        #expect(Self.outcome(&h) == .reply(.value(3)))
    }

    @Test func aFailedGroupTaskFailsTheGroupCancelsTheOthersAndSkipsTheCallback() {
        var h = Harness()
        h.setUp(methods: ["work"])
        Self.start(&h, Self.workflow("group", [["work", []], ["work", []], ["work", []]], callback: ["work", []]))
        #expect(Self.pull(&h, max: 2).count == 2)  // .1 and .2 running, .3 still queued
        _ = h.state.takeOutputs()
        Self.fail(&h, "alice-wf.1", RPCError(code: 12, message: "no"))
        guard case .error(let e) = Self.outcome(&h) else {
            Issue.record("the group did not fail")
            return
        }
        #expect(e.code == 12)
        #expect(e.message.contains("group task 1 of 3"), "\(e.message)")
        for other in ["alice-wf.2", "alice-wf.3"] {
            #expect(h.state.tasks[other]?.error?.code == ErrorCode.taskCancelled.rawValue, "\(other)")
        }
        // The running one's node is told to stop it; the queued one is gone from the queue.
        #expect(h.published().contains { $0.contains("alice-wf.2") && $0.contains("cancel") })
        #expect(Self.pull(&h).isEmpty)
        #expect(h.state.tasks["alice-wf.callback"] == nil)
    }

    @Test func cancellingTheWorkflowCancelsWhatItHasPendingAndNothingMoreStarts() {
        var h = Harness()
        h.setUp(methods: ["work"])
        Self.start(&h, Self.workflow("chain", [["work", []], ["work", []]]))
        #expect(Self.pull(&h).map(\.0) == ["alice-wf.1"])
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-wf"), peer: "C") == true)
        #expect(h.state.tasks["alice-wf.1"]?.error?.code == ErrorCode.taskCancelled.rawValue)
        // The node's late result is heard but starts nothing.
        Self.finish(&h, "alice-wf.1", 5)
        #expect(h.state.tasks["alice-wf.2"] == nil)
        #expect(h.state.workflowOf.isEmpty)
        guard case .error(let e) = Self.outcome(&h) else {
            Issue.record("the workflow was not cancelled")
            return
        }
        #expect(e.code == ErrorCode.taskCancelled.rawValue)
    }

    /// On a real SQLite file: a chain stopped after its first step carries on from the second
    /// after a restart, and once finished keeps what it ran across another.
    @Test func aWorkflowCarriesOnAfterARestartWithSQLite() throws {
        let dir = SQLiteTaskStoreTests.TempDir()
        let path = dir.path + "/store.sqlite"
        func restarted(_ store: SQLiteTaskStore) throws -> Harness {
            var r = BrokerStateJournalTests.journaling()
            r.now = 1000
            r.state.restore(try store.load(), now: 1000)
            r.setUp(methods: ["work"])
            return r
        }
        do {
            var h = BrokerStateJournalTests.journaling()
            h.setUp(methods: ["work"])
            Self.start(&h, Self.workflow("chain", [["work", [1]], ["work", []], ["work", []]]))
            Self.finish(&h, Self.pull(&h)[0].0, 10)
            let store = try SQLiteTaskStore(path: path, synchronous: .normal)
            try store.write(h.state.takeChanges())
            store.close()
        }
        do {
            let store = try SQLiteTaskStore(path: path, synchronous: .normal)
            defer { store.close() }
            var r = try restarted(store)
            #expect(r.state.workflowOf["alice-wf.2"] == "alice-wf")
            let pulled = Self.pull(&r)
            #expect(pulled.map(\.0) == ["alice-wf.2"])
            #expect(pulled.first?.1 == [10])
            Self.finish(&r, "alice-wf.2", 11)
            Self.finish(&r, Self.pull(&r)[0].0, 12)
            #expect(Self.outcome(&r) == .reply(.value(12)))
            try store.write(r.state.takeChanges())
        }
        let store = try SQLiteTaskStore(path: path, synchronous: .normal)
        defer { store.close() }
        var r2 = try restarted(store)
        let info = r2.value(.clientTask(.info, clientID: "alice", taskID: "alice-wf"), peer: "C")
        #expect(info["workflow"]?["task_ids"] == ["alice-wf.1", "alice-wf.2", "alice-wf.3"])
        #expect(Self.outcome(&r2) == .reply(.value(12)))
    }

    @Test func aWorkflowSentAgainWithItsIdIsTheSameOneAndADifferentOneIsRefused() {
        var h = Harness()
        h.setUp(methods: ["work"])
        let chain = Self.workflow("chain", [["work", [1]], ["work", []]])
        #expect(Self.start(&h, chain) == "alice-wf")
        #expect(Self.start(&h, chain) == "alice-wf")
        #expect(h.state.tasks.count == 2)  // the workflow and its first step, once
        let other = Self.workflow("chain", [["work", [2]]])
        #expect(h.refusal(.newWorkflow(clientID: "alice", other, taskID: "wf"), peer: "C")?.code == ErrorCode.invalidTaskID.rawValue)
    }

    @Test func aWorkflowRefusedAtTheStartLeavesNothingBehind() {
        var h = Harness { $0.maxQueuedPerMethod = 2 }
        h.setUp(methods: ["work"])
        let e = h.refusal(.newWorkflow(clientID: "alice", Self.workflow("group", [["work", []], ["work", []], ["work", []]]), taskID: nil), peer: "C")
        #expect(e?.code == ErrorCode.queueFull.rawValue)
        #expect(h.state.tasks.isEmpty)
        #expect(h.state.queuedTaskCount == 0)
        #expect(h.state.workflowOf.isEmpty)
        // Past a cap of the broker's: -32602 naming the task.
        var capped = Harness { $0.maxTaskTimeout = 10 }
        capped.setUp(methods: ["work"])
        let tooLong = capped.refusal(
            .newWorkflow(clientID: "alice", Self.workflow("chain", [["work", []], ["method": "work", "params": [], "timeout": 60]]), taskID: nil),
            peer: "C")
        #expect(tooLong?.message.contains("client_new_workflow: tasks[1]: param \"timeout\"") == true, "\(tooLong?.message ?? "")")
        #expect(capped.state.tasks.isEmpty)
    }

    @Test func anAdminDoesNotRetryAWorkflowAsAWhole() {
        var h = Harness()
        h.setUp(methods: ["work"])
        Self.start(&h, Self.workflow("chain", [["work", []]]))
        Self.fail(&h, Self.pull(&h)[0].0, RPCError(code: 1, message: "no"))
        let answer = h.value(.adminAct(.retry, .ids(["alice-wf"])), peer: "A")
        #expect(answer["retried"] == [])
        #expect(answer["skipped"]?.arrayValue?.first?["reason"]?.stringValue?.contains("workflow") == true, "\(answer)")
    }
}
