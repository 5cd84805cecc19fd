import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The edge decoder on its own: every broker method in every param form PROTOCOL.md lists
/// becomes the typed command the rules take, and every refusal is -32602 naming the method and
/// the parameter. No broker state, no JSON past the decoder.
@Suite struct BrokerCommandDecodingTests {
    static func decode(_ method: BrokerMethod, _ params: JSONValue) throws(RPCError) -> BrokerCommand {
        try BrokerCommand(method, Params(json: params)!)
    }

    /// The -32602 a decode fails with, or nil (recorded) when it decoded.
    static func refusal(_ method: BrokerMethod, _ params: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> RPCError? {
        do {
            let command = try decode(method, params)
            Issue.record("\(method) \(params) decoded to \(command)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == ErrorCode.invalidParams.rawValue, sourceLocation: sourceLocation)
            return error
        }
    }

    static let add = Submission(method: "math.add", params: [2, 3])

    /// One positional and one named request per method, with the command each must become.
    static let forms: [(BrokerMethod, JSONValue, JSONValue, BrokerCommand)] = [
        (.clientConnect, ["c1"], ["client_id": "c1"], .clientConnect(clientID: "c1")),
        (.clientDisconnect, ["c1"], ["client_id": "c1"], .clientDisconnect(clientID: "c1")),
        (.clientNewTask, ["c1", "math.add", [2, 3]], ["client_id": "c1", "method": "math.add", "params": [2, 3]],
            .submit(clientID: "c1", add)),
        (.clientNewTasks, ["c1", [["math.add", [2, 3]]]], ["client_id": "c1", "tasks": [["method": "math.add", "params": [2, 3]]]],
            .submitMany(clientID: "c1", [.success(add)])),
        (.clientTaskStatus, ["c1", "t1"], ["client_id": "c1", "task_id": "t1"], .clientTask(.status, clientID: "c1", taskID: "t1")),
        (.clientTaskResult, ["c1", "t1"], ["client_id": "c1", "task_id": "t1"], .clientTask(.result, clientID: "c1", taskID: "t1")),
        (.clientTaskInfo, ["c1", "t1"], ["client_id": "c1", "task_id": "t1"], .clientTask(.info, clientID: "c1", taskID: "t1")),
        (.clientCancelTask, ["c1", "t1"], ["client_id": "c1", "task_id": "t1"], .clientTask(.cancel, clientID: "c1", taskID: "t1")),
        (.clientCall, ["c1", "math.add", [2, 3], nil, nil, nil, nil, nil, 5],
            ["client_id": "c1", "method": "math.add", "params": [2, 3], "wait": 5], .call(clientID: "c1", add, wait: 5)),
        (.clientWaitResults, ["c1", ["t1", "t2"], 1.5], ["client_id": "c1", "task_ids": ["t1", "t2"], "wait": 1.5],
            .waitResults(clientID: "c1", taskIDs: ["t1", "t2"], wait: 1.5)),
        (.clientNewWorkflow, ["c1", "chain", [["math.add", [2, 3]], ["method": "math.mul", "params": [4]]]],
            ["client_id": "c1", "kind": "chain", "tasks": [["math.add", [2, 3]], ["method": "math.mul", "params": [4]]]],
            .newWorkflow(clientID: "c1", Self.chain, taskID: nil)),
        (.nodeConnect, ["n1", ["math.add"], 4, 8], ["node_id": "n1", "methods": ["math.add"], "workers": 4, "capacity": 8],
            .nodeConnect(nodeID: "n1", methods: ["math.add"], workers: 4, capacity: 8, unavailable: [:])),
        (.nodeHeartbeat, ["n1"], ["node_id": "n1"], .heartbeat(nodeID: "n1")),
        (.nodeDisconnect, ["n1"], ["node_id": "n1"], .nodeDisconnect(nodeID: "n1")),
        (.nodeAdvertise, ["n1", ["math.add"], 2], ["node_id": "n1", "methods": ["math.add"], "workers": 2],
            .advertise(nodeID: "n1", methods: ["math.add": ["name": "math.add"]], workers: 2, capacity: nil, unavailable: [:])),
        (.nodeTaskRelease, ["n1", ["t1"]], ["node_id": "n1", "task_ids": ["t1"]], .release(nodeID: "n1", taskIDs: ["t1"])),
        (.nodeTaskRequest, ["n1", "t1"], ["node_id": "n1", "task_id": "t1"], .claim(nodeID: "n1", taskID: "t1")),
        (.taskStatus, ["n1", "t1", 5000], ["node_id": "n1", "task_id": "t1", "status": 5000],
            .taskStatus(nodeID: "n1", taskID: "t1", status: .running, fields: [:])),
        (.nodeTaskStatus, ["n1", "t1", "running"], ["node_id": "n1", "task_id": "t1", "status": "running"],
            .taskStatus(nodeID: "n1", taskID: "t1", status: .running, fields: [:])),
        (.nodeTaskFinished, ["n1", "t1", 5], ["node_id": "n1", "task_id": "t1", "result": 5],
            .report(nodeID: "n1", .init(taskID: "t1", outcome: .success(5)))),
        (.nodeTaskFailed, ["n1", "t1", ["code": -32000, "message": "no"]],
            ["node_id": "n1", "task_id": "t1", "error": ["code": -32000, "message": "no"]],
            .report(nodeID: "n1", .init(taskID: "t1", outcome: .failure(RPCError(code: -32000, message: "no"))))),
        (.nodeStatus, ["n1"], ["node_id": "n1"], .nodeStatus(nodeID: "n1", fields: [:])),
        (.nodeTaskPull, ["n1", 4, 2, [["id": "t0", "result": 1]]], ["node_id": "n1", "max": 4, "wait": 2, "done": [["id": "t0", "result": 1]]],
            .pull(nodeID: "n1", max: 4, wait: 2, done: [.init(taskID: "t0", outcome: .success(1))])),
        (.nodeTasksDone, ["n1", [["id": "t0", "error": ["code": 1, "message": "m"]]]],
            ["node_id": "n1", "results": [["id": "t0", "error": ["code": 1, "message": "m"]]]],
            .reportMany(nodeID: "n1", [.init(taskID: "t0", outcome: .failure(RPCError(code: 1, message: "m")))])),
        (.nodeCheckTasks, ["n1", ["t1", 7], true], ["node_id": "n1", "task_ids": ["t1", 7], "complete": true],
            .checkTasks(nodeID: "n1", taskIDs: ["t1"], complete: true)),
        (.methods, [], [:], .methods),
        (.nodes, [true], ["refresh": true], .nodes(refresh: true)),
        (.stats, [], [:], .stats),
        (.adminTask, ["t1"], ["task_id": "t1"], .adminTask(taskID: "t1")),
        (.adminTasks, [.null, .null, "failed", "math.add"], ["state": "failed", "method": "math.add"],
            .adminTasks(AdminTaskQuery(state: .failed, method: "math.add"))),
        (.adminRetry, [.null, ["t1", "t2"]], ["task_ids": ["t1", "t2"]], .adminAct(.retry, .ids(["t1", "t2"]))),
        (.adminCancel, [.null, .null, "queued"], ["state": "queued"],
            .adminAct(.cancel, .matching(AdminTaskQuery(state: .queued, limit: Int.max)))),
        (.adminQueue, ["math.add", "pause"], ["method": "math.add", "action": "pause"], .adminQueue(method: "math.add", .pause)),
        (.adminScheduleAdd, ["s", "math.add", [1, 2], nil, nil, 30], ["name": "s", "method": "math.add", "params": [1, 2], "every": "30s"],
            .schedule(.add(Schedule(name: "s", method: "math.add", params: [1, 2], trigger: .every(seconds: 30), last: 0), replace: false))),
        (.adminScheduleList, [], [:], .schedule(.list)),
        (.adminScheduleRemove, ["s"], ["name": "s"], .schedule(.remove(name: "s"))),
    ]

    /// add(2, 3) then mul(that, 4), as the decoder keeps a workflow's tasks: named params.
    static let chain = try! Workflow(
        kind: "chain", tasks: [["method": "math.add", "params": [2, 3]], ["method": "math.mul", "params": [4]]], callback: nil, method: "t")

    @Test func tagsAreReadSortedWithoutRepeatsAndBadOnesAreRefusedByName() throws {
        let tagged = Submission(method: "math.add", params: [2, 3], tags: ["eu", "gpu"])
        #expect(try Self.decode(.clientNewTask, ["client_id": "c1", "method": "math.add", "params": [2, 3], "tags": ["gpu", "eu", "gpu"]])
            == .submit(clientID: "c1", tagged))
        #expect(try Self.decode(.nodeConnect, ["node_id": "n1", "tags": ["gpu"]])
            == .nodeConnect(nodeID: "n1", methods: nil, workers: nil, capacity: nil, unavailable: [:], tags: ["gpu"]))
        #expect(Self.refusal(.clientNewTask, ["client_id": "c1", "method": "m", "params": [], "tags": ["a b"]])?.message
            .contains("client_new_task: param \"tags\" holds \"a b\"") == true)
        #expect(Self.refusal(.clientNewTask, ["client_id": "c1", "method": "m", "params": [], "tags": [1]])?.message
            .contains("param \"tags\"[0] must be a string") == true)
        #expect(Self.refusal(.adminQueue, ["method": "m", "action": "stop"])?.message
            == "admin_queue: param \"action\" must be one of pause, resume, purge, not \"stop\"")
    }

    /// A schedule's definition: each field that does not read names itself.
    @Test func aScheduleDefinitionRefusesEachBadFieldByName() throws {
        let cron = try Self.decode(.adminScheduleAdd, ["name": "b", "method": "m", "cron": "*/5 * * * *", "time_zone": "Europe/Berlin",
            "missed": "skip", "priority": 3, "timeout": 9, "replace": true])
        #expect(cron == .schedule(.add(Schedule(name: "b", method: "m", trigger: .cron(try CronExpression("*/5 * * * *"), timeZone: "Europe/Berlin"),
            missed: .skip, priority: 3, timeout: 9, last: 0), replace: true)))
        func refused(_ params: JSONValue) -> String { Self.refusal(.adminScheduleAdd, params)?.message ?? "" }
        #expect(refused(["name": "a:b", "method": "m", "every": 5]).hasPrefix("admin_schedule_add: param \"name\" must be"))
        #expect(refused(["name": "a", "method": "zerotask.x", "every": 5]).contains("param \"method\""))
        #expect(refused(["name": "a", "method": "m", "params": 5, "every": 5]).contains("param \"params\" must be an array or an object"))
        #expect(refused(["name": "a", "method": "m"]) == "admin_schedule_add: a schedule needs cron or every")
        #expect(refused(["name": "a", "method": "m", "cron": "* * * * *", "every": 5]).contains("cron or every, not both"))
        #expect(refused(["name": "a", "method": "m", "cron": "61 * * * *"]).contains("minute field \"61\": 61 is outside 0-59"))
        #expect(refused(["name": "a", "method": "m", "cron": "* * * * *", "time_zone": "Mars/Base"]).contains("time zone \"Mars/Base\" is not known"))
        #expect(refused(["name": "a", "method": "m", "every": true]).contains("param \"every\" must be seconds"))
        #expect(refused(["name": "a", "method": "m", "every": 5, "missed": "all"]).contains("param \"missed\" must be run_once or skip"))
        #expect(refused(["name": "a", "method": "m", "every": 5, "evrey": 5]).contains("unexpected param \"evrey\""))
    }

    @Test func theTableNamesEveryBrokerMethod() {
        #expect(Set(Self.forms.map(\.0)) == Set(BrokerMethod.allCases))
    }

    @Test(arguments: forms.indices) func everyMethodDecodesByPositionAndByName(_ i: Int) throws {
        let (method, positional, named, expected) = Self.forms[i]
        #expect(try Self.decode(method, positional) == expected, "\(method) by position")
        #expect(try Self.decode(method, named) == expected, "\(method) by name")
    }

    @Test func aWireNameDecodesAndAnUnknownOneIsMethodNotFound() throws {
        let request = Request(method: BrokerMethod.stats.wireName, params: .none, id: 1)
        #expect(try BrokerCommand(request: request) == .stats)
        #expect(throws: RPCError.methodNotFound("zerotask.broker.nope")) {
            try BrokerCommand(request: Request(method: "zerotask.broker.nope", params: .none, id: 1))
        }
    }

    // MARK: the seed spec's forms

    @Test func theSeedFormsLeaveTheNodeToTheConnection() throws {
        #expect(try Self.decode(.nodeTaskRequest, ["t1"]) == .claim(nodeID: nil, taskID: "t1"))
        #expect(try Self.decode(.nodeTaskFinished, ["t1", 5]) == .report(nodeID: nil, .init(taskID: "t1", outcome: .success(5))))
        #expect(try Self.decode(.nodeTaskFinished, ["task_id": "t1", "task_result": 5])
            == .report(nodeID: nil, .init(taskID: "t1", outcome: .success(5))))
        #expect(try Self.decode(.nodeTaskFailed, ["t1", ["code": 3, "message": "m"]])
            == .report(nodeID: nil, .init(taskID: "t1", outcome: .failure(RPCError(code: 3, message: "m")))))
        #expect(try Self.decode(.nodeHeartbeat, []) == .heartbeat(nodeID: nil))
        #expect(try Self.decode(.nodeConnect, []) == .nodeConnect(nodeID: nil, methods: nil, workers: nil, capacity: nil, unavailable: [:]))
        #expect(try Self.decode(.clientConnect, []) == .clientConnect(clientID: nil))
    }

    @Test func furtherNamedFieldsOfAStatusTravelAsTheyAre() throws {
        #expect(try Self.decode(.taskStatus, ["task_id": "t1", "progress": 0.5])
            == .taskStatus(nodeID: nil, taskID: "t1", status: nil, fields: ["progress": 0.5]))
        #expect(try Self.decode(.nodeStatus, ["node_id": "n1", "load": 3]) == .nodeStatus(nodeID: "n1", fields: ["load": 3]))
    }

    @Test func aSubmissionKeepsEveryField() throws {
        let full: JSONValue = ["c1", "m.x", ["a": 1], "mine", 2.5, 7, 3, 60]
        let expected = Submission(method: "m.x", params: ["a": 1], taskID: "mine", timeout: 2.5, priority: 7, maxRetries: 3, resultTTL: 60)
        #expect(try Self.decode(.clientNewTask, full) == .submit(clientID: "c1", expected))
        #expect(try Self.decode(.clientNewTask, ["c1", "m.x", nil]) == .submit(clientID: "c1", Submission(method: "m.x", params: [])))
    }

    @Test func oneBadEntryOfABatchSubmissionFailsAlone() throws {
        guard case .submitMany(_, let entries) = try Self.decode(.clientNewTasks, ["c1", [["m.x", [1]], 5, ["m.y", [], nil, -1]]]) else {
            Issue.record("not a submitMany")
            return
        }
        #expect(entries.count == 3)
        #expect(try entries[0].get() == Submission(method: "m.x", params: [1]))
        #expect(throws: RPCError.invalidParams("tasks[1] must be an object or array")) { try entries[1].get() }
        #expect(throws: RPCError.invalidParams("client_new_tasks: tasks[2]: param \"timeout\" must be a non-negative number of seconds")) {
            try entries[2].get()
        }
    }

    /// `result_ttl` by name or by position (the eighth param of `client_new_task`, the seventh
    /// of a batch entry), and -32602 naming it when it is not a non-negative number of seconds,
    /// a batch entry failing alone. (From BrokerStateResultTTLTests, which checks that each
    /// task keeps its TTL.)
    @Test func aResultTTLIsReadByNameOrPositionAndABadOneIsRefused() throws {
        guard case .submitMany(_, let entries) = try Self.decode(.clientNewTasks, ["alice", [
            ["method": "work", "params": [], "task_id": "named", "result_ttl": 7],
            ["work", [], "positional", .null, 0, 3, 8],
            ["method": "work", "params": [], "task_id": "plain"],
        ]]) else {
            Issue.record("not a submitMany")
            return
        }
        #expect(try entries.map { try $0.get() } == [
            Submission(method: "work", params: [], taskID: "named", resultTTL: 7),
            Submission(method: "work", params: [], taskID: "positional", maxRetries: 3, resultTTL: 8),
            Submission(method: "work", params: [], taskID: "plain"),
        ])
        #expect(try Self.decode(.clientNewTask, ["alice", "work", [], "pos1", .null, 0, 3, 9])
            == .submit(clientID: "alice", Submission(method: "work", params: [], taskID: "pos1", maxRetries: 3, resultTTL: 9)))
        for bad: JSONValue in [-1, "soon", [1], true] {
            let e = Self.refusal(.clientNewTask, ["client_id": "alice", "method": "work", "params": [], "result_ttl": bad])
            #expect(e?.message.contains("result_ttl") == true, "\(e?.message ?? "")")
        }
        guard case .submitMany(_, let batch) = try Self.decode(.clientNewTasks, ["alice", [["method": "work", "params": [], "result_ttl": -5]]])
        else {
            Issue.record("not a submitMany")
            return
        }
        #expect(throws: RPCError.invalidParams("client_new_tasks: tasks[0]: param \"result_ttl\" must be a non-negative number of seconds")) {
            try batch.first?.get()
        }
    }

    /// The admin methods' filters: a bad one is named, and a retry or cancel must say which
    /// tasks it is for. (From AdminTaskTests.)
    @Test func adminFiltersAreNamedAndEverythingMustBeSaid() {
        #expect(Self.refusal(.adminTasks, ["state": "lost"])?.message.contains("\"state\"") == true)
        #expect(Self.refusal(.adminTasks, ["limit": 0])?.message.contains("\"limit\"") == true)
        #expect(Self.refusal(.adminTasks, ["cursor": "!!"])?.message.contains("\"cursor\"") == true)
        #expect(Self.refusal(.adminRetry, [:])?.message.contains("task_ids or at least one filter") == true)
        #expect(Self.refusal(.adminCancel, ["task_ids": [3]])?.message.contains("task_ids[0]") == true)
    }

    // MARK: refusals name the method and the parameter

    @Test func refusalsNameTheParameter() {
        let cases: [(BrokerMethod, JSONValue, String)] = [
            (.clientDisconnect, [], "client_disconnect: missing param \"client_id\""),
            (.clientConnect, [1], "client_connect: param \"client_id\" must be a string, not"),
            (.clientNewTask, ["c1", "m.x", 5], "client_new_task: param \"params\" must be an array or an object"),
            (.clientNewTask, ["c1", "m.x", [], nil, "soon"], "client_new_task: param \"timeout\" must be a number of seconds"),
            (.clientNewTask, ["c1", "m.x", [], nil, nil, 1.5], "client_new_task: param \"priority\" must be an integer"),
            (.clientNewTask, ["c1", "m.x", [], nil, nil, nil, -1], "client_new_task: param \"max_retries\" must be in 0..."),
            (.clientNewTask, ["client_id": "c1", "method": "m.x", "params": [], "colour": 1], "client_new_task: unexpected param \"colour\""),
            (.clientNewTasks, ["c1", 5], "client_new_tasks: param \"tasks\" must be an array"),
            (.clientCall, ["client_id": "c1", "method": "m.x", "params": [], "wait": -1], "client_call: param \"wait\" must be a non-negative"),
            (.clientWaitResults, ["c1", ["t1", 2]], "client_wait_results: task_ids[1] must be a string"),
            (.clientTaskInfo, ["c1"], "client_task_info: missing param \"task_id\""),
            (.clientNewWorkflow, ["c1", "loop", [["m.x"]]], "client_new_workflow: param \"kind\" must be \"chain\" or \"group\""),
            (.clientNewWorkflow, ["c1", "chain", []], "client_new_workflow: param \"tasks\" is empty"),
            (.clientNewWorkflow, ["c1", "chain", [["m.x"], ["method": "m.y", "params": ["a": 1]]]],
                "client_new_workflow: tasks[1]: param \"params\" must be a list: the previous result is passed as the first param"),
            (.clientNewWorkflow, ["c1", "chain", [["m.x"]], ["m.y"]], "client_new_workflow: param \"callback\" is for a group"),
            (.clientNewWorkflow, ["c1", "group", [["method": "m.x", "task_id": "mine"]]], "client_new_workflow: tasks[0]: param \"task_id\" is not for a workflow's task"),
            (.clientNewWorkflow, ["c1", "group", [5]], "client_new_workflow: tasks[0] must be an object or array"),
            (.nodeConnect, ["n1", nil, -1], "node_connect: param \"workers\" must be in 0...1000000"),
            (.nodeConnect, ["node_id": "n1", "capacity": "many"], "node_connect: param \"capacity\" must be an integer"),
            (.nodeConnect, ["node_id": "n1", "unavailable": [5]], "node_connect: unavailable[0] must be an object"),
            (.nodeAdvertise, ["n1", [5]], "methods[0]: must be a method name or a description object"),
            (.nodeAdvertise, ["n1", ["not a name!"]], "methods[0]: \"not a name!\" is not a valid method name"),
            (.nodeTaskRelease, ["n1", "t1"], "node_task_release: param \"task_ids\" must be an array"),
            (.nodeTaskRequest, [], "node_task_request: missing param \"task_id\""),
            (.taskStatus, ["n1", "t1", "sideways"], "task_status: param \"status\" is not a status code or name"),
            (.nodeTaskStatus, ["node_id": "n1"], "node_task_status: missing param \"task_id\""),
            (.nodeStatus, ["n1", 2], "node_status: takes (node_id) by position"),
            (.nodeTaskFailed, ["t1", "boom"], "node_task_failed: param \"error\" must be {\"code\": integer, \"message\": string}"),
            (.nodeTaskFinished, ["t1"], "node_task_finished: missing param \"task_result\""),
            (.nodeTaskPull, [], "node_task_pull: missing param \"node_id\""),
            (.nodeTaskPull, ["n1", 100_001], "node_task_pull: param \"max\" must be in 0...100000"),
            (.nodeTaskPull, ["node_id": "n1", "done": [["result": 1]]], "results[0] must be an object with a string \"id\""),
            (.nodeTasksDone, ["n1", [["id": "t", "error": "x"]]], "results[0].error must be {code, message}"),
            (.nodeCheckTasks, ["n1"], "node_check_tasks: missing param \"task_ids\""),
            (.methods, [1], "methods: too many params"),
            (.stats, ["verbose": true], "stats: unexpected param \"verbose\""),
            (.adminRetry, [:], "admin_retry: give task_ids or at least one filter"),
            (.adminTasks, ["state": "lost"], "admin_tasks: param \"state\" must be one of"),
        ]
        for (method, params, start) in cases {
            guard let e = Self.refusal(method, params) else { continue }
            #expect(e.message.hasPrefix(start), "\(method) \(params): \(e.message)")
        }
    }

    /// Decoding checks shapes, not the broker's limits: a timeout past `max_task_timeout`
    /// decodes, and the rules refuse it (BrokerStateTests).
    @Test func theBrokersCapsAreNotTheDecodersBusiness() throws {
        #expect(try Self.decode(.clientNewTask, ["c1", "m.x", [], nil, 1e9])
            == .submit(clientID: "c1", Submission(method: "m.x", params: [], timeout: 1e9)))
        #expect(throws: RPCError.invalidParams("client_new_task: param \"timeout\" (1000000000.0 s) exceeds the broker's max_task_timeout (604800.0 s)")) {
            try Submission(method: "m.x", params: [], timeout: 1e9).check(BrokerConfig(), method: "client_new_task")
        }
    }
}
