import ZeroTaskProtocol

/// One broker request in the broker's own terms: the method and its params read once, at the
/// edge, in every form PROTOCOL.md lists (the seed spec's and the original prototype's), so the
/// rules (`BrokerState.apply`) never look at JSON params again.
///
/// Decoding is pure: it checks shapes and types (-32602 naming the parameter) but no limit of
/// the broker's configuration and no state; those are the rules' business.
enum BrokerCommand: Sendable, Equatable {
    // MARK: clients
    case clientConnect(clientID: String?)
    case clientDisconnect(clientID: String)
    case submit(clientID: String, Submission)
    /// `client_new_tasks`: each entry decoded on its own, so one bad entry fails alone.
    case submitMany(clientID: String, [Result<Submission, RPCError>])
    /// `client_task_status`, `client_task_result`, `client_task_info`, `client_cancel_task`.
    case clientTask(ClientTaskQuery, clientID: String, taskID: String)
    /// `client_call`: submit and wait in one request.
    case call(clientID: String, Submission, wait: Double?)
    /// `client_wait_results`, with the ids as listed (repeats are dropped by the rules).
    case waitResults(clientID: String, taskIDs: [String], wait: Double?)
    /// `client_new_workflow`: a chain or a group, optionally with the workflow's own id.
    case newWorkflow(clientID: String, Workflow, taskID: String?)

    // MARK: nodes
    /// `tags`: the node's tags (nil: not given, which is none: each registration and
    /// advertisement says them all).
    case nodeConnect(nodeID: String?, methods: [JSONValue]?, workers: Int?, capacity: Int?, unavailable: [String: JSONValue],
        tags: [String]? = nil)
    case heartbeat(nodeID: String?)
    case nodeDisconnect(nodeID: String?)
    case advertise(nodeID: String, methods: [String: JSONValue], workers: Int?, capacity: Int?, unavailable: [String: JSONValue],
        tags: [String]? = nil)
    case release(nodeID: String, taskIDs: [String])
    /// `node_task_request`: the seed spec's claim of one task.
    case claim(nodeID: String?, taskID: String)
    /// `task_status` / `node_task_status`: the named fields other than the fixed ones travel as they are.
    case taskStatus(nodeID: String?, taskID: String, status: TaskStatus?, fields: JSONObject)
    /// `node_task_finished` / `node_task_failed`.
    case report(nodeID: String?, TaskOutcome)
    case nodeStatus(nodeID: String?, fields: JSONObject)
    case pull(nodeID: String, max: Int, wait: Double?, done: [TaskOutcome])
    /// `node_tasks_done`.
    case reportMany(nodeID: String, [TaskOutcome])
    case checkTasks(nodeID: String, taskIDs: [String], complete: Bool)

    // MARK: discovery
    case methods
    case nodes(refresh: Bool)
    case stats

    // MARK: operations (admin)
    case adminTask(taskID: String)
    case adminTasks(AdminTaskQuery)
    /// `admin_retry` / `admin_cancel`.
    case adminAct(AdminAction, AdminTargets)
    /// `admin_schedule_add` / `_list` / `_remove` (BrokerState+Schedules).
    case schedule(ScheduleCommand)

    /// `admin_queue`: stop handing out a method's tasks, start again, or cancel its queued ones.
    case adminQueue(method: String, QueueAction)

    enum AdminAction: Sendable, Equatable { case retry, cancel }

    enum QueueAction: String, Sendable, Equatable, CaseIterable { case pause, resume, purge }

    /// The tasks an admin action is for: the ones named, or every one a filter matches.
    enum AdminTargets: Sendable, Equatable {
        case ids([String])
        case matching(AdminTaskQuery)
    }

    /// What a client asks of one of its tasks.
    enum ClientTaskQuery: Sendable, Equatable { case status, result, info, cancel }

    /// A node's outcome of one task: the node's own type, so a built-in broker's node hands
    /// its outcomes over as they are (`BrokerCommand(_: NodeRequest)`).
    typealias TaskOutcome = NodeRequest.Outcome

    /// What describes a task to submit, in positional order (after `client_id`).
    static let submissionParams = ["method", "params", "task_id", "timeout", "priority", "max_retries", "result_ttl"]
    /// When a task may start and how it is retried: by name in practice, and by position after
    /// every older param (after `wait` for `client_call`), so older positional forms keep their meaning.
    static let schedulingParams = ["not_before", "delay", "retry"]
    /// Submission params added later, after the positional ones above (and after `client_call`'s
    /// `wait`), so the positions in use keep their meaning.
    static let laterSubmissionParams = ["tags"]

    /// The command a request names: -32601 for a method the broker does not have.
    init(request: Request) throws(RPCError) {
        guard let method = BrokerMethod(wireName: request.method) else { throw .methodNotFound(request.method) }
        try self.init(method, request.params)
    }

    /// Reads `params` as `method` takes them.
    /// - Throws: -32602 naming the method and the parameter.
    init(_ method: BrokerMethod, _ params: Params) throws(RPCError) {
        let name = method.rawValue
        func bind(_ names: [String], _ required: Int) throws(RPCError) -> ParamBinder {
            try ParamBinder(params, method: name, names: names, required: required)
        }
        func count(_ p: ParamBinder, _ key: String) throws(RPCError) -> Int? {
            try p.optionalInt(key, in: 0...1_000_000).map { Int($0) }
        }
        func nodeTags(_ p: ParamBinder) throws(RPCError) -> [String]? {
            p.has("tags") ? try Submission.tags(p) : nil
        }
        func unavailable(_ p: ParamBinder) throws(RPCError) -> [String: JSONValue] {
            try BrokerState.unavailableMethods(p.has("unavailable") ? try p.array("unavailable") : [], name)
        }
        switch method {
        case .clientConnect:
            self = .clientConnect(clientID: try bind(["client_id"], 0).optionalString("client_id"))
        case .clientDisconnect:
            self = .clientDisconnect(clientID: try bind(["client_id"], 1).string("client_id"))
        case .clientNewTask:
            let p = try bind(["client_id"] + Self.submissionParams + Self.schedulingParams + Self.laterSubmissionParams, 3)
            self = .submit(clientID: try p.string("client_id"), try Submission(p))
        case .clientNewTasks:
            let p = try bind(["client_id", "tasks"], 2)
            let client = try p.string("client_id")
            let entries = try p.array("tasks").enumerated().map { i, t -> Result<Submission, RPCError> in
                Result { () throws(RPCError) -> Submission in
                    guard let tp = Params(json: t) else { throw .invalidParams("tasks[\(i)] must be an object or array") }
                    return try Submission(try ParamBinder(tp, method: "\(name): tasks[\(i)]", names: Self.submissionParams + Self.schedulingParams + Self.laterSubmissionParams, required: 2))
                }
            }
            self = .submitMany(clientID: client, entries)
        case .clientTaskStatus, .clientTaskResult, .clientTaskInfo, .clientCancelTask:
            let p = try bind(["client_id", "task_id"], 2)
            let query: ClientTaskQuery =
                switch method {
                case .clientTaskStatus: .status
                case .clientTaskInfo: .info
                case .clientCancelTask: .cancel
                default: .result
                }
            self = .clientTask(query, clientID: try p.string("client_id"), taskID: try p.string("task_id"))
        case .clientCall:
            let p = try bind(["client_id"] + Self.submissionParams + ["wait"] + Self.schedulingParams + Self.laterSubmissionParams, 3)
            let client = try p.string("client_id")
            let wait = try p.optionalSeconds("wait")
            self = .call(clientID: client, try Submission(p), wait: wait)
        case .clientWaitResults:
            let p = try bind(["client_id", "task_ids", "wait"], 2)
            let client = try p.string("client_id")
            var ids: [String] = []
            for (i, v) in try p.array("task_ids").enumerated() {
                guard case .string(let s) = v else { throw .invalidParams("\(name): task_ids[\(i)] must be a string") }
                ids.append(s)
            }
            self = .waitResults(clientID: client, taskIDs: ids, wait: try p.optionalSeconds("wait"))

        case .clientNewWorkflow:
            let p = try bind(Workflow.params, 3)
            let client = try p.string("client_id")
            let workflow = try Workflow(kind: try p.string("kind"), tasks: try p.array("tasks"), callback: p.value("callback"), method: name)
            self = .newWorkflow(clientID: client, workflow, taskID: try p.optionalString("task_id"))

        case .nodeConnect:
            let p = try bind(["node_id", "methods", "workers", "capacity", "unavailable", "tags"], 0)
            let methods = p.has("methods") ? try p.array("methods") : nil
            let workers = try count(p, "workers")
            let unavailable = try unavailable(p)
            self = .nodeConnect(nodeID: try p.optionalString("node_id"), methods: methods, workers: workers,
                capacity: try count(p, "capacity"), unavailable: unavailable, tags: try nodeTags(p))
        case .nodeHeartbeat:
            self = .heartbeat(nodeID: try bind(["node_id"], 0).optionalString("node_id"))
        case .nodeDisconnect:
            self = .nodeDisconnect(nodeID: try bind(["node_id"], 0).optionalString("node_id"))
        case .nodeAdvertise:
            let p = try bind(["node_id", "methods", "workers", "capacity", "unavailable", "tags"], 2)
            let id = try p.string("node_id")
            let listed = try p.array("methods")
            let methods: [String: JSONValue]
            do throws(BrokerError) { methods = try BrokerState.methodDescriptions(listed) } catch { throw error.rpcError }
            self = .advertise(nodeID: id, methods: methods, workers: try count(p, "workers"),
                capacity: try count(p, "capacity"), unavailable: try unavailable(p), tags: try nodeTags(p))
        case .nodeTaskRelease:
            let p = try bind(["node_id", "task_ids"], 2)
            let id = try p.string("node_id")
            self = .release(nodeID: id, taskIDs: try p.array("task_ids").compactMap(\.stringValue))
        case .nodeTaskRequest:
            // `(task_id)` (seed: the node is the one on this connection) or `(node_id, task_id)`.
            let names: [String]
            if case .positional(let a) = params, a.count <= 1 { names = ["task_id"] } else { names = ["node_id", "task_id"] }
            let p = try bind(names, names.count)
            self = .claim(nodeID: try p.optionalString("node_id"), taskID: try p.string("task_id"))
        case .taskStatus, .nodeTaskStatus:
            var (node, fields) = try Self.nodeFields(params, name, fixed: ["node_id", "task_id", "status"])
            guard case .string(let taskID)? = fields["task_id"] else { throw .invalidParams("\(name): missing param \"task_id\"") }
            fields["task_id"] = nil
            var status: TaskStatus?
            if let s = fields["status"] {
                switch s {
                case .int(let code): status = TaskStatus(rawValue: code)
                case .string(let n): status = TaskStatus(name: n)
                default: break
                }
                guard status != nil else { throw .invalidParams("\(name): param \"status\" is not a status code or name: \(s)") }
                fields["status"] = nil
            }
            self = .taskStatus(nodeID: node, taskID: taskID, status: status, fields: fields)
        case .nodeTaskFinished, .nodeTaskFailed:
            self = try Self.report(params, failed: method == .nodeTaskFailed, name)
        case .nodeStatus:
            let (node, fields) = try Self.nodeFields(params, name, fixed: ["node_id"])
            self = .nodeStatus(nodeID: node, fields: fields)
        case .nodeTaskPull:
            let p = try bind(["node_id", "max", "wait", "done"], 1)
            let node = try p.string("node_id")
            let done = p.has("done") ? try Self.outcomes(try p.array("done")) : []
            let max = Int(try p.optionalInt("max", in: 0...100_000) ?? 1)
            self = .pull(nodeID: node, max: max, wait: try p.optionalSeconds("wait"), done: done)
        case .nodeTasksDone:
            let p = try bind(["node_id", "results"], 2)
            let node = try p.string("node_id")
            self = .reportMany(nodeID: node, try Self.outcomes(try p.array("results")))
        case .nodeCheckTasks:
            let p = try bind(["node_id", "task_ids", "complete"], 2)
            let node = try p.string("node_id")
            // Entries that are not strings name no task: they are neither confirmed nor reported gone.
            self = .checkTasks(nodeID: node, taskIDs: try p.array("task_ids").compactMap(\.stringValue),
                complete: p.value("complete")?.boolValue == true)

        case .methods:
            _ = try bind([], 0)
            self = .methods
        case .nodes:
            self = .nodes(refresh: try bind(["refresh"], 0).value("refresh")?.boolValue == true)
        case .stats:
            _ = try bind([], 0)
            self = .stats

        case .adminQueue:
            let p = try bind(["method", "action"], 2)
            let m = try p.string("method")
            let a = try p.string("action")
            guard let action = QueueAction(rawValue: a) else {
                throw .invalidParams("\(name): param \"action\" must be one of \(QueueAction.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(a)\"")
            }
            self = .adminQueue(method: m, action)
        case .adminTask:
            self = .adminTask(taskID: try bind(BrokerState.adminParams, 0).string("task_id"))
        case .adminTasks:
            self = .adminTasks(try BrokerState.adminQuery(try bind(BrokerState.adminParams, 0), method: name))
        case .adminRetry, .adminCancel:
            let p = try bind(BrokerState.adminParams, 0)
            let targets: AdminTargets
            if p.has("task_ids") {
                targets = .ids(try p.array("task_ids").enumerated().map { (i, v) throws(RPCError) -> String in
                    guard let s = v.stringValue else { throw .invalidParams("\(name): task_ids[\(i)] must be a string") }
                    return s
                })
            } else {
                var q = try BrokerState.adminQuery(p, method: name)
                // "Everything" must be said: a filter-less retry or cancel of every task is a slip.
                guard q != AdminTaskQuery(limit: q.limit) else {
                    throw .invalidParams("\(name): give task_ids or at least one filter (state, method, client_id, node_id, since, until, text)")
                }
                q.limit = Int.max
                targets = .matching(q)
            }
            self = .adminAct(method == .adminRetry ? .retry : .cancel, targets)
        case .adminScheduleAdd, .adminScheduleList, .adminScheduleRemove:
            self = try Self.schedule(method, params)
        }
    }

    /// Named fixed params plus any further named fields (`task_status`, `node_status`).
    private static func nodeFields(_ params: Params, _ name: String, fixed: [String]) throws(RPCError) -> (String?, JSONObject) {
        var fields = JSONObject()
        var fixedParams: Params
        switch params {
        case .positional(let a):
            guard a.count <= fixed.count else {
                throw .invalidParams("\(name): takes (\(fixed.joined(separator: ", "))) by position; pass further fields by name")
            }
            fixedParams = params
        case .named(let o):
            var f = JSONObject()
            for m in o.members {
                if fixed.contains(m.key) { f.append(m.key, m.value) } else { fields.append(m.key, m.value) }
            }
            fixedParams = .named(f)
        }
        let p = try ParamBinder(fixedParams, method: name, names: fixed, required: 0)
        let node = try p.optionalString("node_id")
        for key in fixed where key != "node_id" { if let v = p.value(key) { fields[key] = v } }
        return (node, fields)
    }

    /// `node_task_finished (task_id, task_result)` / `node_task_failed (task_id, error)` of the
    /// seed spec, or `(node_id, task_id, result|error)` of the prototype.
    private static func report(_ params: Params, failed: Bool, _ name: String) throws(RPCError) -> BrokerCommand {
        let seedKey = failed ? "error" : "task_result"
        let origKey = failed ? "error" : "result"
        let names: [String]
        switch params {
        case .positional(let a): names = a.count <= 2 ? ["task_id", seedKey] : ["node_id", "task_id", origKey]
        case .named(let o): names = o["node_id"] != nil || o[origKey] != nil ? ["node_id", "task_id", origKey] : ["task_id", seedKey]
        }
        let p = try ParamBinder(params, method: name, names: names, required: names.count)
        let node = try p.optionalString("node_id")
        let taskID = try p.string("task_id")
        let value = p.value(names.last!) ?? .null
        let outcome: Result<JSONValue, RPCError>
        if failed {
            guard let e = RPCError(json: value) else {
                throw .invalidParams("\(name): param \"error\" must be {\"code\": integer, \"message\": string}")
            }
            outcome = .failure(e)
        } else {
            outcome = .success(value)
        }
        return .report(nodeID: node, TaskOutcome(taskID: taskID, outcome: outcome))
    }

    /// Several outcomes: each `{"id", "result"}` or `{"id", "error"}`. An entry of the wrong
    /// shape refuses the whole list, before any outcome is applied.
    static func outcomes(_ list: [JSONValue]) throws(RPCError) -> [TaskOutcome] {
        var out: [TaskOutcome] = []
        out.reserveCapacity(list.count)
        for (i, entry) in list.enumerated() {
            guard case .object(let o) = entry, case .string(let id)? = o["id"] else {
                throw .invalidParams("results[\(i)] must be an object with a string \"id\"")
            }
            if let e = o["error"] {
                guard let err = RPCError(json: e) else { throw .invalidParams("results[\(i)].error must be {code, message}") }
                out.append(TaskOutcome(taskID: id, outcome: .failure(err)))
            } else {
                out.append(TaskOutcome(taskID: id, outcome: .success(o["result"] ?? .null)))
            }
        }
        return out
    }
}

extension Submission {
    /// A submission read from its params; the broker's caps are checked when it is applied
    /// (`check(_:method:)`).
    init(_ p: ParamBinder) throws(RPCError) {
        let params = p.value("params") ?? .array([])
        guard Params(json: params) != nil else {
            throw .invalidParams("\(p.method): param \"params\" must be an array or an object, not \(params.typeName)")
        }
        self.init(
            method: try p.string("method"), params: params, taskID: try p.optionalString("task_id"),
            timeout: try p.optionalSeconds("timeout"), priority: try p.optionalInt("priority") ?? 0,
            maxRetries: try p.optionalInt("max_retries", in: 0...Int64.max).map { Int(clamping: $0) },
            resultTTL: try p.optionalSeconds("result_ttl"), tags: try Self.tags(p))
        start = try Self.start(p)
        if let r = p.value("retry") {
            do throws(PolicyError) { spec.retry = try RetryPolicy(json: r, field: "retry") } catch {
                throw .invalidParams("\(p.method): param \"\(error.field)\" \(error.message)")
            }
        }
    }

    /// `not_before` (seconds since 1970) or `delay` (seconds from now), never both.
    private static func start(_ p: ParamBinder) throws(RPCError) -> SubmissionStart? {
        let delay = try p.optionalSeconds("delay")
        guard let v = p.value("not_before") else { return delay.map { .after($0) } }
        guard let t = v.doubleValue else {
            throw .invalidParams("\(p.method): param \"not_before\" must be a number (seconds since 1970), not \(v.typeName)")
        }
        guard t.isFinite, t >= 0 else { throw .invalidParams("\(p.method): param \"not_before\" must be a non-negative number of seconds since 1970") }
        guard delay == nil else {
            throw .invalidParams("\(p.method): params \"not_before\" and \"delay\" both say when to start; give one of them")
        }
        return .at(WallInstant(seconds: t))
    }

    /// The `tags` param: a list of tags (`gpu`, `eu-west`), sorted without repeats; empty when absent.
    static func tags(_ p: ParamBinder) throws(RPCError) -> [String] {
        guard p.has("tags") else { return [] }
        let list = try p.array("tags")
        do throws(PolicyError) {
            return try Tags.read(list, field: "\(p.method): param \"tags\"")
        } catch {
            throw .invalidParams(error.description)
        }
    }
}

extension BrokerCommand {
    /// The tasks the command reads or changes by id, as the broker keeps them (a submission's
    /// chosen id prefixed with its client): on a shared queue, those this broker does not hold
    /// are read from the database first (`BrokerState.lookUpNamed`).
    var namedTaskIDs: [String] {
        switch self {
        case .clientTask(_, _, let id), .adminTask(let id): [id]
        case .submit(let client, let s): s.taskID.map { ["\(client)-\($0)"] } ?? []
        case .waitResults(_, let ids, _): ids
        case .adminAct(_, .ids(let ids)): ids
        default: []
        }
    }
}
