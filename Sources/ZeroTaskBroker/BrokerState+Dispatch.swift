import ZeroTaskProtocol

/// Routes a request to the broker's rules: a JSON-RPC request's caller's role is checked and
/// its params are decoded once into a `BrokerCommand` (a built-in broker's node's typed
/// `NodeRequest` is mapped to one), and the command is applied.
extension BrokerState {
    /// Handles one request.
    /// - Parameters:
    ///   - canDefer: whether a long poll may be parked (not inside a batch).
    ///   - caller: who the CURVE key says sent it; nil without keys (every caller may call
    ///     every method then, and identities are bound to connections alone).
    public mutating func handle(_ request: Request, route: ReplyRoute, now: MonotonicInstant, canDefer: Bool, caller: PeerIdentity? = nil) -> BrokerAnswer {
        admit(BrokerMethod(wireName: request.method), named: request.method, caller: caller, route: route, now: now, canDefer: canDefer) {
            (method) throws(RPCError) in try BrokerCommand(method, request.params)
        }
    }

    /// Handles one request of the node in this process (a built-in broker's): typed already, so
    /// its command is mapped from its fields, not decoded from JSON, and no role is checked (it
    /// is no remote peer).
    mutating func handle(_ request: NodeRequest, route: ReplyRoute, now: MonotonicInstant, canDefer: Bool) -> BrokerAnswer {
        admit(request.method, named: request.method.wireName, caller: nil, route: route, now: now, canDefer: canDefer) {
            (_) throws(RPCError) in try BrokerCommand(request)
        }
    }

    /// What every request goes through, from a peer or from this process's node: counted
    /// (`requests_total`; `requests_by_method` once its method is known and its caller may call
    /// it), made a command, applied.
    private mutating func admit(_ method: BrokerMethod?, named wireName: @autoclosure () -> String, caller: PeerIdentity?,
        route: ReplyRoute, now: MonotonicInstant, canDefer: Bool, command: (BrokerMethod) throws(RPCError) -> BrokerCommand) -> BrokerAnswer
    {
        counters.requests += 1
        guard let method else {
            return .error(.methodNotFound(wireName()))
        }
        if let caller, !caller.role.mayCall(method) {
            return .error(RPCError(.notAllowed, "\(caller) may not call \(wireName()): the \(caller.role.rawValue) role calls \(caller.role.allowedMethods)"))
        }
        counters.byMethod[method.rawValue, default: 0] += 1
        let decoded: BrokerCommand
        do { decoded = try command(method) } catch { return .error(error) }
        return apply(decoded, route: route, caller: caller, now: now, canDefer: canDefer)
    }

    /// Applies a decoded command as `caller` sent it on `route`'s connection. The caller's role
    /// is not checked here: `handle` checks it against the method before decoding.
    mutating func apply(_ command: BrokerCommand, route: ReplyRoute, caller: PeerIdentity? = nil, now: MonotonicInstant,
        canDefer: Bool = true) -> BrokerAnswer
    {
        let tenancy = Tenancy(caller: caller)
        if shared != nil { lookUpNamed(by: command, now: now) }
        // Queues a command reopened (a slot freed, a method resumed) go to parked pulls now.
        defer { if !limits.due.isEmpty { dispatchReopened(now: now) } }
        do {
            return try rules(command, route: route, connection: Connection(peer: route.peer, key: caller), tenancy: tenancy,
                now: now, canDefer: canDefer)
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

    /// Applies one decoded command: the broker's rules, answered with a typed `BrokerReply` (the
    /// JSON the caller reads is written at the edge, `BrokerReply.json`).
    /// - Parameters:
    ///   - connection: who asks; client and node ids are bound to it.
    ///   - tenancy: how the caller's client and task ids read inside the broker (its tenant's
    ///     prefix added to ids it names, taken off ids it is told).
    /// - Throws: `RPCError` for a param past the broker's caps, `BrokerError` for a rule's refusal.
    private mutating func rules(_ command: BrokerCommand, route: ReplyRoute, connection: Connection,
        tenancy: Tenancy, now: MonotonicInstant, canDefer: Bool) throws -> BrokerAnswer
    {
        let peer = route.peer
        /// The caller's client id, connected on this connection.
        func client(_ given: String) throws -> String {
            let id = tenancy.inside(given)
            try clients.touch(id, connection: connection, now: now)
            return id
        }
        /// The node named, or the one on this connection (the seed spec's forms name none).
        func node(_ given: String?) throws -> String {
            let id = try nodeID(given: given, peer: connection.peer)
            try touchNode(id, connection: connection, now: now)
            return id
        }
        switch command {
        // MARK: clients
        case .clientConnect(let requested):
            let id = try connectClient(requested, tenancy: tenancy, connection: connection, now: now)
            return .reply(.id(tenancy.outside(id)))
        case .clientDisconnect(let given):
            try disconnectClient(tenancy.inside(given), connection: connection, now: now)
            return .reply(.accepted)
        case .submit(let given, let submission):
            let client = try client(given)
            try submission.check(config, method: BrokerMethod.clientNewTask.rawValue)
            try submission.checkStart(config, wallNow: wallClock(), method: BrokerMethod.clientNewTask.rawValue)
            return .reply(.id(tenancy.outside(try submit(submission, clientID: client, now: now))))
        case .submitMany(let given, let entries):
            let client = try client(given)
            var ids: [Result<String, RPCError>] = []
            ids.reserveCapacity(entries.count)
            for (i, entry) in entries.enumerated() {
                do {
                    let submission = try entry.get()
                    try submission.check(config, method: "\(BrokerMethod.clientNewTasks.rawValue): tasks[\(i)]")
                    try submission.checkStart(config, wallNow: wallClock(), method: "\(BrokerMethod.clientNewTasks.rawValue): tasks[\(i)]")
                    ids.append(.success(tenancy.outside(try submit(submission, clientID: client, now: now))))
                } catch {
                    ids.append(.failure(tenancy.outside(Self.rpcError(error))))
                }
            }
            return .reply(.submitted(ids))
        case .clientTask(let query, let given, let givenTask):
            let client = try client(given)
            let taskID = tenancy.inside(givenTask)
            switch query {
            case .status: return .reply(.status(try task(taskID, of: client, tenancy).status))
            case .info: return .reply(.document(try task(taskID, of: client, tenancy).info(tenancy)))
            case .cancel: return .reply(.flag(try cancel(taskID, clientID: client, tenancy, now: now)))
            case .result:
                switch Self.resultOutcome(try task(taskID, of: client, tenancy), tenancy) {
                case .success(let r): return .reply(.value(r))
                case .failure(let e): return .error(e)
                }
            }
        case .call(let given, let submission, let askedWait):
            // Submit and wait in one request: the reply comes when the task completes.
            let name = BrokerMethod.clientCall.rawValue
            let client = try client(given)
            let wait = Swift.min(askedWait ?? config.maxWait, config.maxWait)
            try submission.check(config, method: name)
            try submission.checkStart(config, wallNow: wallClock(), method: name)
            // Refused before submitting, so a refused call leaves no task behind.
            if canDefer && wait > 0 { try checkRoomToPark(ids: 1, peer: peer, name: name) }
            let id = try submit(submission, clientID: client, now: now)
            let waiter = ResultWaiter(route: route, clientID: client, taskIDs: [id], deadline: now + wait, single: true, tenancy: tenancy)
            if let t = tasks[id], t.status.isComplete || wait == 0 || !canDefer {
                return .reply(waiter.answer(t.status.isComplete ? [t] : [], tasks: tasks))
            }
            resultWaiters.add(waiter)
            deferStoring(call: id, clientChose: submission.taskID != nil, now: now)
            return .deferred
        case .waitResults(let given, let listed, let askedWait):
            let name = BrokerMethod.clientWaitResults.rawValue
            let client = try client(given)
            // Repeats are dropped before anything else: each id costs once, however often it is named.
            var ids: [String] = []
            var seen = Set<String>(minimumCapacity: Swift.min(listed.count, config.maxWaitIDs))
            var done: [TaskRecord] = []
            for s in listed {
                guard seen.insert(s).inserted else { continue }
                guard ids.count < config.maxWaitIDs else {
                    throw RPCError.invalidParams("\(name): task_ids names more than \(config.maxWaitIDs) distinct tasks (max_wait_ids); wait for fewer at a time")
                }
                let t = try task(tenancy.inside(s), of: client, tenancy)
                ids.append(t.id)
                if t.status.isComplete { done.append(t) }
            }
            let wait = Swift.min(askedWait ?? 0, config.maxWait)
            if !done.isEmpty || wait == 0 || !canDefer || ids.isEmpty {
                return .reply(.entries(fittingReply(done).map { Self.resultEntry($0, tenancy) }))
            }
            try checkRoomToPark(ids: ids.count, peer: peer, name: name)
            resultWaiters.add(ResultWaiter(route: route, clientID: client, taskIDs: ids, deadline: now + wait, tenancy: tenancy))
            return .deferred
        case .newWorkflow(let given, let workflow, let taskID):
            let client = try client(given)
            return .reply(.id(tenancy.outside(try startWorkflow(workflow, taskID: taskID, clientID: client, now: now))))

        // MARK: nodes
        case .nodeConnect(let requested, let methods, let workers, let capacity, let unavailable, let tags):
            let id = try connectNode(requested, methods: methods, workers: workers, connection: connection, now: now)
            if let capacity { nodes.update(id) { $0.capacity = capacity } }
            nodes.update(id) { $0.tags = Set(tags ?? []) }
            setUnavailable(unavailable, node: id)
            refreshLimits(node: id, now: now)
            return .reply(.id(id))
        case .heartbeat(let given):
            _ = try node(given)
            return .reply(.accepted)
        case .nodeDisconnect(let given):
            dropNode(try node(given), now: now, reason: "disconnected")
            return .reply(.accepted)
        case .advertise(let given, let methods, let workers, let capacity, let unavailable, let tags):
            let id = try node(given)
            nodes.update(id) { $0.advertise(methods) }
            nodes.update(id) { $0.tags = Set(tags ?? []) }
            refreshLimits(node: id, now: now)
            nodeWaiters.refile(nodeID: id, methods: methods.keys)
            setUnavailable(unavailable, node: id)
            if let workers { nodes.update(id) { $0.workers = workers } }
            if let capacity { nodes.update(id) { $0.capacity = capacity } }
            if shared != nil { shared!.mayClaimAny() }
            return .reply(.accepted)
        case .release(let given, let ids):
            return .reply(.count(release(ids, nodeID: try node(given), now: now)))
        case .claim(let given, let taskID):
            return .reply(.claimed(try claim(taskID, nodeID: try node(given), now: now)))
        case .taskStatus(let given, let taskID, let status, let fields):
            try updateStatus(taskID, nodeID: try node(given), status: status, fields: fields)
            return .reply(.accepted)
        case .report(let given, let outcome):
            try report(outcome.taskID, nodeID: try node(given), outcome: outcome.outcome, now: now)
            return .reply(.accepted)
        case .nodeStatus(let given, let fields):
            nodes.update(try node(given)) { $0.setStatus(fields) }
            return .reply(.accepted)
        case .pull(let given, let max, let askedWait, let done):
            let node = try node(given)
            reportBatch(done, nodeID: node, now: now)
            let wait = Swift.min(askedWait ?? 0, config.maxWait)
            var got = pullQueued(for: node, max: max, now: now)
            // On a shared queue, a pull that will not wait claims what the queue holds for it.
            if got.count < max, shared != nil, wait <= 0 || !canDefer { got += claimForPull(node, max: max - got.count, now: now) }
            guard let record = nodes[node], got.isEmpty, wait > 0, canDefer, max > 0, record.freeSlots > 0 else {
                return .reply(.assignments(got))
            }
            // One parked pull per node: an older one is answered empty so the node never waits on it.
            let waiter = NodeWaiter(route: route, nodeID: node, max: max, deadline: now + wait)
            if let w = nodeWaiters.park(waiter, methods: record.methods.keys) {
                outputs.append(.reply(w.route, .assignments([])))
            }
            // On a shared queue the turn's commit claims for it, for the methods the database may hold.
            return .deferred
        case .reportMany(let given, let outcomes):
            return .reply(.reported(reportBatch(outcomes, nodeID: try node(given), now: now)))
        case .checkTasks(let given, let listed, let complete):
            let node = try node(given)
            if complete { reclaimUnlisted(Set(listed), nodeID: node, now: now) }
            var confirmed: Set<String> = []
            let gone = listed.filter { id in
                let stillMine = tasks[id]?.nodeID == node && tasks[id]?.status.isComplete == false
                if stillMine { confirmed.insert(id) }
                return !stillMine
            }
            nodes.update(node) { $0.unconfirmed.subtract(confirmed) }
            return .reply(.gone(gone))

        // MARK: discovery
        case .methods:
            return .reply(.document(methodsSummary()))
        case .nodes(let refresh):
            // `refresh`: ask every node for its status now (broker_node_status); the answers
            // arrive as node_status and show in the next `nodes`.
            if refresh, interest.nodeStatus { publish(.nodeStatusRequest) }
            return .reply(.document(nodesSummary(now: now)))
        case .stats:
            return .reply(.document(statsSummary()))

        // MARK: operations
        case .adminTask(let id):
            guard let t = tasks[id] else { throw BrokerError.unknownTask(id) }
            return .reply(.document(adminDetail(t)))
        case .adminTasks(let query):
            return .reply(.document(adminPage(query)))
        case .adminAct(let action, let targets):
            return .reply(.document(admin(action, targets, now: now)))
        case .adminQueue(let method, let action):
            return .reply(.document(try queueControl(method, action, now: now)))
        case .schedule(let c):
            return .reply(.document(try scheduleRule(c, now: now)))
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

    /// Applies several outcomes of `nodeID`'s tasks; per outcome, nil when accepted or why not.
    @discardableResult
    mutating func reportBatch(_ list: [BrokerCommand.TaskOutcome], nodeID: String, now: MonotonicInstant) -> [RPCError?] {
        list.map { entry in
            do throws(BrokerError) {
                try report(entry.taskID, nodeID: nodeID, outcome: entry.outcome, now: now)
                return nil
            } catch {
                return error.rpcError
            }
        }
    }
}
