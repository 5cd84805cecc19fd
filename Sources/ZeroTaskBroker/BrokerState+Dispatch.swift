import ZeroTaskProtocol

/// Routes a JSON-RPC request to the broker's rules, reading params in both forms PROTOCOL.md
/// lists (the seed spec's and the original prototype's).
extension BrokerState {
    /// Handles one request.
    /// - Parameters:
    ///   - canDefer: whether a long poll may be parked (not inside a batch).
    ///   - caller: who the CURVE key says sent it; nil without keys (every caller may call
    ///     every method then, and identities are bound to connections alone).
    public mutating func handle(_ request: Request, route: ReplyRoute, now: Double, canDefer: Bool, caller: PeerIdentity? = nil) -> BrokerAnswer {
        counters.requests += 1
        guard let method = BrokerMethod(wireName: request.method) else {
            return .error(.methodNotFound(request.method))
        }
        if let caller, !caller.role.mayCall(method) {
            return .error(RPCError(.notAllowed, "\(caller) may not call \(request.method): the \(caller.role.rawValue) role calls \(caller.role.allowedMethods)"))
        }
        counters.byMethod[method.rawValue, default: 0] += 1
        let tenancy = Tenancy(caller: caller)
        let connection = Connection(peer: route.peer, key: caller)
        do {
            return try dispatch(method, request.params, route: route, connection: connection, tenancy: tenancy, now: now, canDefer: canDefer)
        } catch {
            return .error(tenancy.outside(Self.rpcError(error)))
        }
    }

    /// The JSON-RPC error for what handling a request threw: a rule's `BrokerError` mapped
    /// (`BrokerError.rpcError`), a param decoder's -32602 `RPCError` as it is.
    static func rpcError(_ error: any Error) -> RPCError {
        switch error {
        case let e as BrokerError: e.rpcError
        case let e as RPCError: e
        default: RPCError(.internalError, "\(error)")
        }
    }

    /// - Parameters:
    ///   - connection: who asks; client and node ids are bound to it.
    ///   - tenancy: how the caller's client and task ids read inside the broker (its tenant's
    ///     prefix added to ids it names, taken off ids it is told).
    /// - Throws: `RPCError` for params that do not decode, `BrokerError` for a rule's refusal.
    private mutating func dispatch(_ method: BrokerMethod, _ params: Params, route: ReplyRoute, connection: Connection,
        tenancy: Tenancy, now: Double, canDefer: Bool) throws -> BrokerAnswer
    {
        let name = method.rawValue
        let peer = route.peer
        /// The caller's client id, connected on this connection.
        func client(_ p: ParamBinder) throws -> String {
            let id = tenancy.inside(try p.string("client_id"))
            try clients.touch(id, connection: connection, now: now)
            return id
        }
        func bind(_ names: [String], _ required: Int) throws(RPCError) -> ParamBinder {
            try ParamBinder(params, method: name, names: names, required: required)
        }
        switch method {
        // MARK: clients
        case .clientConnect:
            let p = try bind(["client_id"], 0)
            let id = try connectClient(try p.optionalString("client_id"), tenancy: tenancy, connection: connection, now: now)
            return .result(.string(tenancy.outside(id)))
        case .clientDisconnect:
            let p = try bind(["client_id"], 1)
            try disconnectClient(tenancy.inside(try p.string("client_id")), connection: connection, now: now)
            return .result(true)
        case .clientNewTask:
            let p = try bind(["client_id"] + Self.submissionParams, 3)
            let client = try client(p)
            return .result(.string(tenancy.outside(try submit(try Self.submission(p, config), clientID: client, now: now))))
        case .clientNewTasks:
            let p = try bind(["client_id", "tasks"], 2)
            let client = try client(p)
            var ids: [JSONValue] = []
            for (i, t) in try p.array("tasks").enumerated() {
                do {
                    guard let tp = Params(json: t) else { throw RPCError.invalidParams("tasks[\(i)] must be an object or array") }
                    let b = try ParamBinder(tp, method: "client_new_tasks: tasks[\(i)]",
                        names: Self.submissionParams, required: 2)
                    ids.append(.string(tenancy.outside(try submit(try Self.submission(b, config), clientID: client, now: now))))
                } catch {
                    ids.append(tenancy.outside(Self.rpcError(error)).json)
                }
            }
            return .result(.array(ids))
        case .clientTaskStatus, .clientTaskResult, .clientTaskInfo, .clientCancelTask:
            let p = try bind(["client_id", "task_id"], 2)
            let client = try client(p)
            let taskID = tenancy.inside(try p.string("task_id"))
            switch method {
            case .clientTaskStatus: return .result(.int(try task(taskID, of: client, tenancy).status.rawValue))
            case .clientTaskInfo: return .result(try task(taskID, of: client, tenancy).info(tenancy))
            case .clientCancelTask: return .result(.bool(try cancel(taskID, clientID: client, tenancy, now: now)))
            default:
                switch Self.resultOutcome(try task(taskID, of: client, tenancy), tenancy) {
                case .success(let r): return .result(r)
                case .failure(let e): return .error(e)
                }
            }
        case .clientCall:
            // Submit and wait in one request: the reply comes when the task completes.
            let p = try bind(["client_id"] + Self.submissionParams + ["wait"], 3)
            let client = try client(p)
            let wait = Swift.min(try p.optionalSeconds("wait") ?? config.maxWait, config.maxWait)
            let submission = try Self.submission(p, config)
            // Refused before submitting, so a refused call leaves no task behind.
            if canDefer && wait > 0 { try checkRoomToPark(ids: 1, peer: peer, name: name) }
            let id = try submit(submission, clientID: client, now: now)
            let waiter = ResultWaiter(route: route, clientID: client, taskIDs: [id], deadline: now + wait, single: true, tenancy: tenancy)
            if let t = tasks[id], t.status.isComplete || wait == 0 || !canDefer {
                return .result(waiter.answer(t.status.isComplete ? [t] : [], tasks: tasks))
            }
            resultWaiters.add(waiter)
            return .deferred
        case .clientWaitResults:
            let p = try bind(["client_id", "task_ids", "wait"], 2)
            let client = try client(p)
            let listed = try p.array("task_ids")
            // Repeats are dropped before anything else: each id costs once, however often it is named.
            var ids: [String] = []
            var seen = Set<String>(minimumCapacity: Swift.min(listed.count, config.maxWaitIDs))
            var done: [TaskRecord] = []
            for (i, v) in listed.enumerated() {
                guard case .string(let s) = v else { throw RPCError.invalidParams("\(name): task_ids[\(i)] must be a string") }
                guard seen.insert(s).inserted else { continue }
                guard ids.count < config.maxWaitIDs else {
                    throw RPCError.invalidParams("\(name): task_ids names more than \(config.maxWaitIDs) distinct tasks (max_wait_ids); wait for fewer at a time")
                }
                let t = try task(tenancy.inside(s), of: client, tenancy)
                ids.append(t.id)
                if t.status.isComplete { done.append(t) }
            }
            let wait = Swift.min(try p.optionalSeconds("wait") ?? 0, config.maxWait)
            if !done.isEmpty || wait == 0 || !canDefer || ids.isEmpty {
                return .result(.array(fittingReply(done).map { Self.resultEntry($0, tenancy) }))
            }
            try checkRoomToPark(ids: ids.count, peer: peer, name: name)
            resultWaiters.add(ResultWaiter(route: route, clientID: client, taskIDs: ids, deadline: now + wait, tenancy: tenancy))
            return .deferred

        // MARK: nodes
        case .nodeConnect:
            let p = try bind(["node_id", "methods", "workers", "capacity", "unavailable"], 0)
            let methods = p.has("methods") ? try p.array("methods") : nil
            let workers = try p.optionalInt("workers", in: 0...1_000_000).map { Int($0) }
            let unavailable = try Self.unavailableMethods(p.has("unavailable") ? try p.array("unavailable") : [], name)
            let id = try connectNode(try p.optionalString("node_id"), methods: methods, workers: workers, connection: connection, now: now)
            if let c = try p.optionalInt("capacity", in: 0...1_000_000) { nodes.update(id) { $0.capacity = Int(c) } }
            setUnavailable(unavailable, node: id)
            return .result(.string(id))
        case .nodeHeartbeat:
            _ = try nodeOf(params, name, connection, now: now)
            return .result(true)
        case .nodeDisconnect:
            let id = try nodeOf(params, name, connection, now: now)
            dropNode(id, now: now, reason: "disconnected")
            return .result(true)
        case .nodeAdvertise:
            let p = try bind(["node_id", "methods", "workers", "capacity", "unavailable"], 2)
            let id = try p.string("node_id")
            try touchNode(id, connection: connection, now: now)
            let methods = try Self.methodDescriptions(try p.array("methods"))
            nodes.update(id) { $0.advertise(methods) }
            nodeWaiters.refile(nodeID: id, methods: methods.keys)
            setUnavailable(try Self.unavailableMethods(p.has("unavailable") ? try p.array("unavailable") : [], name), node: id)
            if let w = try p.optionalInt("workers", in: 0...1_000_000) { nodes.update(id) { $0.workers = Int(w) } }
            if let c = try p.optionalInt("capacity", in: 0...1_000_000) { nodes.update(id) { $0.capacity = Int(c) } }
            return .result(true)
        case .nodeTaskRelease:
            let p = try bind(["node_id", "task_ids"], 2)
            let id = try p.string("node_id")
            try touchNode(id, connection: connection, now: now)
            let ids = try p.array("task_ids").compactMap(\.stringValue)
            return .result(.int(Int64(release(ids, nodeID: id))))
        case .nodeTaskRequest:
            let (node, taskID) = try nodeTask(params, name, idKey: "task_id", connection, now: now)
            return .result(try claim(taskID, nodeID: node) ?? .object([:]))
        case .taskStatus, .nodeTaskStatus:
            return try taskStatus(params, name, connection, now: now)
        case .nodeTaskFinished, .nodeTaskFailed:
            return try taskReport(params, name, connection, now: now)
        case .nodeStatus:
            let (node, fields) = try nodeFields(params, name, connection, now: now, fixed: ["node_id"])
            nodes.update(node) { $0.setStatus(fields) }
            return .result(true)
        case .nodeTaskPull:
            let p = try bind(["node_id", "max", "wait", "done"], 1)
            let node = try p.string("node_id")
            try touchNode(node, connection: connection, now: now)
            if p.has("done") { try reportBatch(try p.array("done"), nodeID: node, now: now) }
            let max = Int(try p.optionalInt("max", in: 0...100_000) ?? 1)
            let wait = Swift.min(try p.optionalSeconds("wait") ?? 0, config.maxWait)
            let got = pullQueued(for: node, max: max)
            guard let record = nodes[node], got.isEmpty, wait > 0, canDefer, max > 0, record.freeSlots > 0 else {
                return .result(.array(got))
            }
            // One parked pull per node: an older one is answered empty so the node never waits on it.
            let waiter = NodeWaiter(route: route, nodeID: node, max: max, deadline: now + wait)
            if let w = nodeWaiters.park(waiter, methods: record.methods.keys) {
                outputs.append(.reply(w.route, Response(id: w.route.id, result: .array([]))))
            }
            return .deferred
        case .nodeTasksDone:
            let p = try bind(["node_id", "results"], 2)
            let node = try p.string("node_id")
            try touchNode(node, connection: connection, now: now)
            return .result(.array(try reportBatch(try p.array("results"), nodeID: node, now: now)))
        case .nodeCheckTasks:
            let p = try bind(["node_id", "task_ids", "complete"], 2)
            let node = try p.string("node_id")
            try touchNode(node, connection: connection, now: now)
            let listed = try p.array("task_ids")
            if p.value("complete")?.boolValue == true {
                reclaimUnlisted(Set(listed.compactMap(\.stringValue)), nodeID: node, now: now)
            }
            var confirmed: Set<String> = []
            let gone = listed.compactMap { v -> JSONValue? in
                guard case .string(let id) = v else { return nil }
                // JSONValue? spelled out: a bare `nil` here would become JSON null and be kept.
                let stillMine = tasks[id]?.nodeID == node && tasks[id]?.status.isComplete == false
                if stillMine { confirmed.insert(id) }
                return stillMine ? JSONValue?.none : v
            }
            nodes.update(node) { $0.unconfirmed.subtract(confirmed) }
            return .result(.array(gone))

        // MARK: discovery
        case .methods:
            _ = try bind([], 0)
            return .result(methodsSummary())
        case .nodes:
            // `refresh`: ask every node for its status now (broker_node_status); the answers
            // arrive as node_status and show in the next `nodes`.
            let p = try bind(["refresh"], 0)
            if p.value("refresh")?.boolValue == true, interest.nodeStatus { publish(Notifications.nodeStatusRequest()) }
            return .result(nodesSummary(now: now))
        case .stats:
            _ = try bind([], 0)
            return .result(statsSummary())

        // MARK: operations
        case .adminTasks, .adminTask, .adminRetry, .adminCancel:
            return .result(try admin(method, try bind(Self.adminParams, 0), now: now))
        }
    }

    /// -32070 when parking one more result wait naming `ids` tasks would pass a cap: parked
    /// waits hold memory until answered, so neither one connection nor all of them may pile up.
    private func checkRoomToPark(ids: Int, peer: [UInt8], name: String) throws(BrokerError) {
        let why: String
        if resultWaiters.count(peer: peer) >= config.maxParkedWaitsPerConnection {
            why = "this connection has \(config.maxParkedWaitsPerConnection) waits parked (max_parked_waits_per_connection)"
        } else if resultWaiters.count >= config.maxParkedWaits {
            why = "\(config.maxParkedWaits) waits are parked (max_parked_waits)"
        } else if resultWaiters.idCount + ids > config.maxParkedWaitIDs {
            why = "parked waits name \(resultWaiters.idCount) tasks (max_parked_wait_ids \(config.maxParkedWaitIDs))"
        } else {
            return
        }
        throw .queueFull("\(name): cannot wait now: \(why); retry later")
    }

    private func nodeID(given: String?, peer: [UInt8]) throws(BrokerError) -> String {
        if let given { return given }
        return try nodes.nodeID(forPeer: peer)
    }

    /// What describes a task to submit, in positional order (after `client_id`).
    static let submissionParams = ["method", "params", "task_id", "timeout", "priority", "max_retries", "result_ttl"]

    /// A submission read from its params, refused with -32602 naming the broker's cap when it
    /// asks for more retries, a longer timeout or a longer result lifetime than allowed.
    static func submission(_ p: ParamBinder, _ config: BrokerConfig) throws(RPCError) -> Submission {
        let params = p.value("params") ?? .array([])
        guard Params(json: params) != nil else {
            throw .invalidParams("\(p.method): param \"params\" must be an array or an object, not \(params.typeName)")
        }
        func capped(_ name: String, _ value: Double?, _ cap: Double, _ setting: String) throws(RPCError) -> Double? {
            guard let value, value > cap else { return value }
            throw .invalidParams("\(p.method): param \"\(name)\" (\(value) s) exceeds the broker's \(setting) (\(cap) s)")
        }
        let maxRetries = try p.optionalInt("max_retries", in: 0...Int64.max).map { Int(clamping: $0) }
        if let maxRetries, maxRetries > config.maxTaskRetries {
            throw .invalidParams("\(p.method): param \"max_retries\" (\(maxRetries)) exceeds the broker's max_task_retries (\(config.maxTaskRetries))")
        }
        return Submission(
            method: try p.string("method"), params: params, taskID: try p.optionalString("task_id"),
            timeout: try capped("timeout", try p.optionalSeconds("timeout"), config.maxTaskTimeout, "max_task_timeout"),
            priority: try p.optionalInt("priority") ?? 0, maxRetries: maxRetries,
            resultTTL: try capped("result_ttl", try p.optionalSeconds("result_ttl"), config.maxResultTTL, "max_result_ttl"))
    }

    /// The node id given as the only param, or implied by the connection.
    private mutating func nodeOf(_ params: Params, _ name: String, _ connection: Connection, now: Double) throws -> String {
        let p = try ParamBinder(params, method: name, names: ["node_id"], required: 0)
        let id = try nodeID(given: p.optionalString("node_id"), peer: connection.peer)
        try touchNode(id, connection: connection, now: now)
        return id
    }

    /// `(task_id)` (seed: the node is the one on this connection) or `(node_id, task_id)`.
    private mutating func nodeTask(_ params: Params, _ name: String, idKey: String, _ connection: Connection, now: Double)
        throws -> (String, String)
    {
        let names: [String]
        if case .positional(let a) = params, a.count <= 1 { names = [idKey] } else { names = ["node_id", idKey] }
        let p = try ParamBinder(params, method: name, names: names, required: names.count == 1 ? 1 : 2)
        let node = try nodeID(given: p.optionalString("node_id"), peer: connection.peer)
        try touchNode(node, connection: connection, now: now)
        return (node, try p.string(idKey))
    }

    /// Named fixed params plus any further named fields (`task_status`, `node_status`).
    private mutating func nodeFields(_ params: Params, _ name: String, _ connection: Connection, now: Double, fixed: [String])
        throws -> (String, JSONObject)
    {
        var fields = JSONObject()
        var fixedParams: Params
        switch params {
        case .positional(let a):
            guard a.count <= fixed.count else {
                throw RPCError.invalidParams("\(name): takes (\(fixed.joined(separator: ", "))) by position; pass further fields by name")
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
        let node = try nodeID(given: p.optionalString("node_id"), peer: connection.peer)
        try touchNode(node, connection: connection, now: now)
        for key in fixed where key != "node_id" { if let v = p.value(key) { fields[key] = v } }
        return (node, fields)
    }

    private mutating func taskStatus(_ params: Params, _ name: String, _ connection: Connection, now: Double)
        throws -> BrokerAnswer
    {
        var (node, fields) = try nodeFields(params, name, connection, now: now, fixed: ["node_id", "task_id", "status"])
        guard case .string(let taskID)? = fields["task_id"] else { throw RPCError.invalidParams("\(name): missing param \"task_id\"") }
        fields["task_id"] = nil
        var status: TaskStatus?
        if let s = fields["status"] {
            switch s {
            case .int(let code): status = TaskStatus(rawValue: code)
            case .string(let n): status = TaskStatus(name: n)
            default: break
            }
            guard status != nil else { throw RPCError.invalidParams("\(name): param \"status\" is not a status code or name: \(s)") }
            fields["status"] = nil
        }
        try updateStatus(taskID, nodeID: node, status: status, fields: fields)
        _ = node
        return .result(true)
    }

    private mutating func taskReport(_ params: Params, _ name: String, _ connection: Connection, now: Double)
        throws -> BrokerAnswer
    {
        let failed = name == BrokerMethod.nodeTaskFailed.rawValue
        let seedKey = failed ? "error" : "task_result"
        let origKey = failed ? "error" : "result"
        let names: [String]
        switch params {
        case .positional(let a): names = a.count <= 2 ? ["task_id", seedKey] : ["node_id", "task_id", origKey]
        case .named(let o): names = o["node_id"] != nil || o[origKey] != nil ? ["node_id", "task_id", origKey] : ["task_id", seedKey]
        }
        let p = try ParamBinder(params, method: name, names: names, required: names.count)
        let node = try nodeID(given: p.optionalString("node_id"), peer: connection.peer)
        try touchNode(node, connection: connection, now: now)
        let taskID = try p.string("task_id")
        let value = p.value(names.last!) ?? .null
        let outcome: Result<JSONValue, RPCError>
        if failed {
            guard let e = RPCError(json: value) else {
                throw RPCError.invalidParams("\(name): param \"error\" must be {\"code\": integer, \"message\": string}")
            }
            outcome = .failure(e)
        } else {
            outcome = .success(value)
        }
        try report(taskID, nodeID: node, outcome: outcome, now: now)
        return .result(true)
    }

    /// Reports several outcomes: each `{"id", "result"}` or `{"id", "error"}`. Returns one
    /// `true` or error object per entry.
    @discardableResult
    mutating func reportBatch(_ list: [JSONValue], nodeID: String, now: Double) throws(RPCError) -> [JSONValue] {
        var out: [JSONValue] = []
        for (i, entry) in list.enumerated() {
            guard case .object(let o) = entry, case .string(let id)? = o["id"] else {
                throw .invalidParams("results[\(i)] must be an object with a string \"id\"")
            }
            let outcome: Result<JSONValue, RPCError>
            if let e = o["error"] {
                guard let err = RPCError(json: e) else { throw .invalidParams("results[\(i)].error must be {code, message}") }
                outcome = .failure(err)
            } else {
                outcome = .success(o["result"] ?? .null)
            }
            do throws(BrokerError) {
                try report(id, nodeID: nodeID, outcome: outcome, now: now)
                out.append(true)
            } catch {
                out.append(error.rpcError.json)
            }
        }
        return out
    }
}
