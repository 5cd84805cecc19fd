import ZeroTaskProtocol

/// Clients and nodes: connecting, liveness, disconnecting.
extension BrokerState {
    /// The id a peer asked for, checked, or a new one (`c…` for clients, `n…` for nodes) that
    /// differs from every id this broker ever gave.
    mutating func chooseID(_ requested: String?, kind: Character, invalid: (String, String) -> BrokerError) throws(BrokerError) -> String {
        if let requested {
            guard Identifier.isValidID(requested) else { throw invalid(requested, "not a valid id") }
            return requested
        }
        defer { nextSequence += 1 }
        return "\(kind)\(idPrefix)\(String(nextSequence, radix: 36))"
    }

    /// Connects a client id (the caller's, inside its tenancy) on `connection`, or refuses it
    /// while another live connection holds it (see `ClientRecord.isHeld`).
    mutating func connectClient(_ requested: String?, tenancy: Tenancy, connection: Connection, now: MonotonicInstant)
        throws(BrokerError) -> String
    {
        let id = tenancy.inside(try chooseID(requested, kind: "c", invalid: BrokerError.client))
        try Self.refuseScheduleClient(id)
        if try clients.connect(id, connection: connection, now: now) { clientChanged(id) }
        return id
    }

    mutating func disconnectClient(_ id: String, connection: Connection, now: MonotonicInstant) throws(BrokerError) {
        try clients.disconnect(id, connection: connection, now: now)
        clientChanged(id)
        for waiter in resultWaiters.take(clientID: id) {
            storeNamed(by: waiter)
            outputs.append(.reply(waiter.route, waiter.answer([], tasks: tasks)))
        }
    }

    /// Registers a node id on `connection`. Refused while the id is registered on another
    /// connection (or, with keys, by another key) and not dropped for silence: a node id is
    /// never taken from a live node.
    /// - Parameter methods: the methods it serves, names or description objects; nil: any (a seed node).
    mutating func connectNode(_ requested: String?, methods: [JSONValue]?, workers: Int?, connection: Connection, now: MonotonicInstant)
        throws(BrokerError) -> String
    {
        let id = try chooseID(requested, kind: "n", invalid: BrokerError.node)
        let described = try methods.map { (m) throws(BrokerError) in try Self.methodDescriptions(m) }
        if let existing = nodes[id], !existing.awaitingReconnect {
            if existing.connection != connection, let key = connection.key, existing.connection.key == key {
                // The same key on a new connection: the node itself, reconnected or restarted.
                // It registers again there and confirms what it holds, as on its own connection.
                nodes.move(id, to: connection)
            }
            guard nodes[id]?.connection == connection else {
                throw BrokerError.node(id: id, why: "taken by a live node on another connection (last heard \(Int(now - existing.lastSeen)) s ago)")
            }
            nodes.update(id) { $0.registerAgain(methods: described, workers: workers, now: now, confirmWithin: config.nodeTimeout) }
            if let described { nodeWaiters.refile(nodeID: id, methods: described.keys) }
        } else {
            if let old = nodes.replaced(by: id, on: connection) { dropNode(old, now: now, reason: "replaced by \(id)") }
            let record = nodes.admit(id, on: connection, methods: described, workers: workers, now: now,
                connectedAt: wallClock(), confirmWithin: config.nodeTimeout)
            events.append(.nodeJoined(nodeID: id, methods: record.methods.count, workers: record.workers))
        }
        nodes.forgetSilent(id, peer: connection.peer)
        // The database may hold a backlog of what it serves.
        if shared != nil { shared!.mayClaimAny() }
        return id
    }

    /// Turns a `methods` param (names or description objects) into descriptions keyed by name.
    static func methodDescriptions(_ list: [JSONValue]) throws(BrokerError) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (i, m) in list.enumerated() {
            let name: String
            var desc: JSONValue
            switch m {
            case .string(let s):
                name = s
                desc = ["name": .string(s)]
            case .object(let o):
                guard let s = o["name"]?.stringValue else {
                    throw .invalidParams("methods[\(i)]: a method description needs a string \"name\"")
                }
                name = s
                desc = m
                try checkAdvertisedLimit(o, index: i)
            default:
                throw .invalidParams("methods[\(i)]: must be a method name or a description object, not \(m.typeName)")
            }
            guard Identifier.isValidMethodName(name), !Identifier.isReservedMethodName(name) else {
                throw .invalidParams("methods[\(i)]: \"\(name)\" is not a valid method name")
            }
            out[name] = desc
        }
        return out
    }

    /// Checks that a node id is registered by `connection` and records its activity (see
    /// `NodeRegistry.touch`).
    mutating func touchNode(_ id: String, connection: Connection, now: MonotonicInstant) throws(BrokerError) {
        try nodes.touch(id, connection: connection, now: now, connectedAt: wallClock())
    }

    /// Forgets a node; its unfinished tasks go back to the queue (or fail once out of retries).
    /// - Parameter silent: dropped for silence, not by its own word: kept aside so that its
    ///   next request from the same connection registers it again.
    mutating func dropNode(_ id: String, now: MonotonicInstant, reason: String, silent: Bool = false) {
        setUnavailable([:], node: id)
        guard let node = nodes.remove(id, keepingSilent: silent) else { return }
        // A parked pull is answered (empty), never left hanging: a REQ peer would wait forever.
        if let w = nodeWaiters.remove(nodeID: id) {
            outputs.append(.reply(w.route, .assignments([])))
        }
        var requeued = 0, failed = 0
        for taskID in node.assigned.sorted() {
            switch requeueOrFail(taskID, now: now, cause: "node \(id) \(reason)") {
            case true?: requeued += 1
            case false?: failed += 1
            case nil: break
            }
        }
        events.append(.nodeLost(nodeID: id, reason: reason, requeued: requeued, failed: failed))
    }

    /// Queues a task again (true), or fails it once out of retries (false); nil when it was
    /// already complete or gone.
    @discardableResult
    mutating func requeueOrFail(_ taskID: String, now: MonotonicInstant, cause: String) -> Bool? {
        guard var task = tasks[taskID], !task.status.isComplete else { return nil }
        if let n = task.nodeID, !task.lostBy.contains(n) { task.lostBy.append(n) }
        let lostOn = task.nodeID
        task.nodeID = nil
        if task.unplannedAttempts > task.maxRetries {
            tasks[taskID] = task
            complete(taskID, now: now, outcome: .failure(RPCError(
                .retriesExhausted, "task lost: \(cause); \(task.attempts) attempts, retries exhausted",
                data: ["attempts": .int(Int64(task.attempts))])))
            return false
        }
        stoppedRunning(task)
        task.recordStart(of: lostOn)
        task.events.record(TaskEvent(.requeued, at: wallClock(), attempt: task.attempts, nodeID: lostOn, detail: cause))
        task.status = .queued
        task.progress = nil
        tasks[taskID] = task
        taskChanged(taskID)
        counters.requeued += 1
        observer?.taskRetried(method: task.method)  // metrics
        events.append(.taskRequeued(taskID: taskID, method: task.method, cause: cause))  // logged, rate-limited
        enqueue(task, now: now)
        return true
    }

    /// Expires silent nodes, idle clients, old results and long polls past their deadline;
    /// queues the delayed tasks whose time has come.
    public mutating func tick(now: MonotonicInstant) {
        for node in nodes.all where now - node.lastSeen > config.nodeTimeout {
            dropNode(node.id, now: now, reason: "silent for \(Int(now - node.lastSeen)) s", silent: !node.awaitingReconnect)
        }
        for node in nodes.all where !node.unconfirmed.isEmpty && now >= node.confirmBy {
            for taskID in nodes.takeUnconfirmed(node.id).sorted() {
                requeueOrFail(taskID, now: now, cause: "node \(node.id) did not confirm it after the broker restarted")
            }
        }
        releaseDelayed(now: now)
        if limits.wakeups.count > 0 { wakeLimits(now: now) }
        dispatchReopened(now: now)
        expireWaiters(now: now)
        storeLateCalls(now: now)
        fireDueSchedules(now: now)
        tickShared(now: now)
        guard now - lastSweep >= 1 else { return }
        lastSweep = now
        expireResults(now: now)
        reportEvictions(now: now)
        for id in clients.removeIdle(now: now, ttl: config.clientTTL) { clientChanged(id) }
        // A silent node is remembered as long as an idle client: long enough for any pause.
        nodes.forgetSilent(olderThan: config.clientTTL, now: now)
    }

    /// Deletes completed tasks whose results are past their `result_ttl`: only the due entries
    /// of the expiry heap are looked at, however many results are kept.
    mutating func expireResults(now: MonotonicInstant) {
        // (An entry matches its task only if it was pushed for this completion: same formula.)
        for entry in resultExpiry.popDue(now: now) {
            // The entry may be stale: the task gone already, or its id reused by a newer task.
            guard let t = tasks[entry.key], t.status.isComplete, resultExpiresAt(t) == entry.at else { continue }
            forgetResult(entry.key)
        }
    }

    /// When a completed task's result may be deleted (monotonic): its completion plus its own
    /// `result_ttl`, else the broker's. Nil while the task is not complete.
    func resultExpiresAt(_ t: TaskRecord) -> MonotonicInstant? { Self.resultExpiresAt(t, defaultTTL: config.resultTTL) }

    static func resultExpiresAt(_ t: TaskRecord, defaultTTL: Double) -> MonotonicInstant? {
        t.completedAt.map { $0 + (t.resultTTL ?? defaultTTL) }
    }
}
