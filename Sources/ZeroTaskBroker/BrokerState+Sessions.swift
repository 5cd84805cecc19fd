import ZeroTaskProtocol

/// Clients and nodes: connecting, liveness, disconnecting.
extension BrokerState {
    static func invalidClient(_ id: String, _ why: String) -> RPCError {
        RPCError(.invalidClientID, "client \"\(id)\": \(why)")
    }

    static func invalidNode(_ id: String, _ why: String) -> RPCError {
        RPCError(.invalidNodeID, "node \"\(id)\": \(why)")
    }

    /// The id a peer asked for, checked, or a new one (`c…` for clients, `n…` for nodes) that
    /// differs from every id this broker ever gave.
    mutating func chooseID(_ requested: String?, kind: Character, invalid: (String, String) -> RPCError) throws(RPCError) -> String {
        if let requested {
            guard Identifier.isValidID(requested) else { throw invalid(requested, "not a valid id") }
            return requested
        }
        defer { nextSequence += 1 }
        return "\(kind)\(idPrefix)\(String(nextSequence, radix: 36))"
    }

    /// Connects a client id (the caller's, inside its tenancy) on `connection`, or refuses it
    /// while another live connection holds it (see `ClientRecord.isHeld`).
    mutating func connectClient(_ requested: String?, tenancy: Tenancy, connection: Connection, now: Double)
        throws(RPCError) -> String
    {
        let id = tenancy.inside(try chooseID(requested, kind: "c", invalid: Self.invalidClient))
        if let existing = clients[id], existing.isHeld(byOtherThan: connection, now: now, timeout: config.clientTimeout) {
            throw Self.invalidClient(id, "taken by another connection active \(Int(now - existing.lastSeen)) s ago")
        }
        if clients[id] == nil {
            clients[id] = ClientRecord(id: id, connection: connection, lastSeen: now)
            clientChanged(id)
        } else {
            if !clients[id]!.connected { clientChanged(id) }
            clients[id]!.connection = connection
            clients[id]!.lastSeen = now
            clients[id]!.connected = true
        }
        return id
    }

    /// Checks that a client id is connected and not held by another live connection, and
    /// records its activity (a connection may carry on with an id nobody else holds, such as
    /// one remembered from the store).
    mutating func touchClient(_ id: String, connection: Connection, now: Double) throws(RPCError) {
        guard Identifier.isValidID(id) else { throw Self.invalidClient(id, "not a valid id") }
        guard let client = clients[id], client.connected else {
            throw Self.invalidClient(id, clients[id] == nil ? "unknown (call client_connect first)" : "disconnected")
        }
        guard !client.isHeld(byOtherThan: connection, now: now, timeout: config.clientTimeout) else {
            throw Self.invalidClient(id, "in use by another connection (active \(Int(now - client.lastSeen)) s ago)")
        }
        clients[id]!.lastSeen = now
        clients[id]!.connection = connection
    }

    mutating func disconnectClient(_ id: String, connection: Connection, now: Double) throws(RPCError) {
        try touchClient(id, connection: connection, now: now)
        clients[id]!.connected = false
        clientChanged(id)
        for waiter in resultWaiters.take(clientID: id) {
            outputs.append(.reply(waiter.route, Response(id: waiter.route.id, result: waiter.answer([], tasks: tasks))))
        }
    }

    /// Registers a node id on `connection`. Refused while the id is registered on another
    /// connection (or, with keys, by another key) and not dropped for silence: a node id is
    /// never taken from a live node.
    mutating func connectNode(_ requested: String?, methods: [JSONValue]?, workers: Int?, connection: Connection, now: Double)
        throws(RPCError) -> String
    {
        let id = try chooseID(requested, kind: "n", invalid: Self.invalidNode)
        let described = try methods.map { (m) throws(RPCError) in try Self.methodDescriptions(m) }
        let peer = connection.peer
        if let existing = nodes[id], !existing.awaitingReconnect {
            guard existing.connection == connection else {
                throw Self.invalidNode(id, "taken by a live node on another connection (last heard \(Int(now - existing.lastSeen)) s ago)")
            }
            // The same connection registering again (or a restarted node with the same id and
            // routing id): it must confirm the tasks it holds within node_timeout, by reporting
            // them or naming them in node_check_tasks; the others are queued again.
            nodes[id]!.lastSeen = now
            nodes[id]!.unconfirmed = nodes[id]!.assigned
            if !nodes[id]!.assigned.isEmpty { nodes[id]!.confirmBy = now + config.nodeTimeout }
            if let described {
                nodes[id]!.methods = described
                nodeWaiters.refile(nodeID: id, methods: described.keys)
                nodes[id]!.servesAny = false
            }
            if let workers { nodes[id]!.workers = workers }
        } else {
            if let oldID = nodeByPeer[peer], oldID != id, nodes[oldID]?.connection == connection {
                dropNode(oldID, now: now, reason: "replaced by \(id)")
            }
            // A node remembered from the store takes back the tasks it was running.
            var record = nodes[id] ?? NodeRecord(id: id, connection: connection, lastSeen: now, connectedAt: wallClock())
            record.connection = connection
            record.lastSeen = now
            record.connectedAt = wallClock()
            record.awaitingReconnect = false
            if !record.unconfirmed.isEmpty { record.confirmBy = now + config.nodeTimeout }
            record.methods = described ?? [:]
            record.servesAny = described == nil
            record.workers = workers ?? 0
            nodes[id] = record
            nodeByPeer[peer] = id
            events.append(.nodeJoined(nodeID: id, methods: record.methods.count, workers: record.workers))
        }
        // Registered anew: what was remembered of a silent node on this peer, or under this id
        // on another, is superseded (that connection no longer speaks for the id).
        silentByPeer[peer] = nil
        if !silentByPeer.isEmpty { silentByPeer = silentByPeer.filter { $0.value.id != id } }
        return id
    }

    /// Turns a `methods` param (names or description objects) into descriptions keyed by name.
    static func methodDescriptions(_ list: [JSONValue]) throws(RPCError) -> [String: JSONValue] {
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

    /// Checks that a node id is registered by `connection` and records its activity: every node
    /// method speaks for the node only from the connection (and key) that registered it. A node
    /// dropped for silence that speaks again from that connection is registered again first.
    mutating func touchNode(_ id: String, connection: Connection, now: Double) throws(RPCError) {
        if nodes[id] == nil { readmitSilentNode(id, connection: connection, now: now) }
        guard let node = nodes[id] else {
            throw Self.invalidNode(id, Identifier.isValidID(id) ? "unknown (call node_connect first)" : "not a valid id")
        }
        // -32030 makes the node register again, which is what a restarted broker needs from it.
        guard !node.awaitingReconnect else { throw Self.invalidNode(id, "unknown since the broker restarted (call node_connect again)") }
        guard node.connection == connection else {
            throw Self.invalidNode(id, "registered by another connection; only that one speaks for it")
        }
        nodes[id]!.lastSeen = now
    }

    /// The node registered on this peer (the seed spec's implicit node id), or the one dropped
    /// for silence there (`touchNode` registers it again).
    func nodeID(forPeer peer: [UInt8]) throws(RPCError) -> String {
        if nodeByPeer[peer] == nil, let silent = silentByPeer[peer] { return silent.id }
        guard let id = nodeByPeer[peer], nodes[id] != nil else {
            throw RPCError(.invalidNodeID, "no node is connected on this connection (call node_connect first)")
        }
        return id
    }

    /// Forgets a node; its unfinished tasks go back to the queue (or fail once out of retries).
    /// - Parameter silent: dropped for silence, not by its own word: kept aside so that its
    ///   next request from the same connection registers it again.
    mutating func dropNode(_ id: String, now: Double, reason: String, silent: Bool = false) {
        setUnavailable([:], node: id)
        guard let node = nodes.removeValue(forKey: id) else { return }
        if nodeByPeer[node.peer] == id { nodeByPeer[node.peer] = nil }
        // (Bounded: connections that vanish by the thousand must not grow it without end.)
        if silent, !node.peer.isEmpty, silentByPeer.count < Self.maxSilentNodes {
            var kept = node
            kept.assigned = []
            kept.unconfirmed = []
            kept.missing = []
            kept.status = JSONObject()
            silentByPeer[node.peer] = kept
        }
        // A parked pull is answered (empty), never left hanging: a REQ peer would wait forever.
        if let w = nodeWaiters.remove(nodeID: id) {
            outputs.append(.reply(w.route, Response(id: w.route.id, result: .array([]))))
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
    mutating func requeueOrFail(_ taskID: String, now: Double, cause: String) -> Bool? {
        guard var task = tasks[taskID], !task.status.isComplete else { return nil }
        if let n = task.nodeID, !task.lostBy.contains(n) { task.lostBy.append(n) }
        task.nodeID = nil
        if task.attempts > task.maxRetries {
            tasks[taskID] = task
            complete(taskID, now: now, outcome: .failure(RPCError(
                .retriesExhausted, "task lost: \(cause); \(task.attempts) attempts, retries exhausted",
                data: ["attempts": .int(Int64(task.attempts))])))
            return false
        }
        task.status = .queued
        task.progress = nil
        tasks[taskID] = task
        taskChanged(taskID)
        counters.requeued += 1
        observer?.taskRetried(method: task.method)  // metrics
        enqueue(task)
        return true
    }

    /// Expires silent nodes, idle clients, old results and long polls past their deadline.
    public mutating func tick(now: Double) {
        for (id, node) in nodes where now - node.lastSeen > config.nodeTimeout {
            dropNode(id, now: now, reason: "silent for \(Int(now - node.lastSeen)) s", silent: !node.awaitingReconnect)
        }
        for (id, node) in nodes where !node.unconfirmed.isEmpty && now >= node.confirmBy {
            nodes[id]!.unconfirmed = []
            for taskID in node.unconfirmed.sorted() {
                nodes[id]!.assigned.remove(taskID)
                requeueOrFail(taskID, now: now, cause: "node \(id) did not confirm it after the broker restarted")
            }
        }
        expireWaiters(now: now)
        guard now - lastSweep >= 1 else { return }
        lastSweep = now
        expireResults(now: now)
        reportEvictions(now: now)
        for (id, client) in clients where client.pending <= 0 && now - client.lastSeen > config.clientTTL {
            clients[id] = nil
            clientChanged(id)
        }
        // A silent node is remembered as long as an idle client: long enough for any pause.
        if !silentByPeer.isEmpty { silentByPeer = silentByPeer.filter { now - $0.value.lastSeen <= config.clientTTL } }
    }

    /// Deletes completed tasks whose results are past their `result_ttl`: only the due entries
    /// of the expiry heap are looked at, however many results are kept.
    mutating func expireResults(now: Double) {
        // (An entry matches its task only if it was pushed for this completion: same formula.)
        for entry in resultExpiry.popDue(now: now) {
            // The entry may be stale: the task gone already, or its id reused by a newer task.
            guard let t = tasks[entry.key], t.status.isComplete, resultExpiresAt(t) == entry.at else { continue }
            forgetResult(entry.key)
        }
    }

    /// When a completed task's result may be deleted (monotonic): its completion plus its own
    /// `result_ttl`, else the broker's. Nil while the task is not complete.
    func resultExpiresAt(_ t: TaskRecord) -> Double? { Self.resultExpiresAt(t, defaultTTL: config.resultTTL) }

    static func resultExpiresAt(_ t: TaskRecord, defaultTTL: Double) -> Double? {
        t.completedAt.map { $0 + (t.resultTTL ?? defaultTTL) }
    }
}

/// Re-admission of nodes presumed dead.
extension BrokerState {
    /// The most nodes dropped for silence that are remembered for re-admission at once.
    static let maxSilentNodes = 100_000

    /// Registers again the node dropped for silence on `peer`, if it is `id` and nobody took
    /// the id meanwhile. Its tasks were queued again when it was dropped; it starts empty, with
    /// the methods and workers it had declared. A late result it still delivers is accepted
    /// (see `report`): the first result stands.
    mutating func readmitSilentNode(_ id: String, connection: Connection, now: Double) {
        let peer = connection.peer
        guard var record = silentByPeer[peer], record.id == id, record.connection == connection, nodes[id] == nil,
            nodeByPeer[peer] == nil
        else { return }
        silentByPeer[peer] = nil
        record.lastSeen = now
        record.connectedAt = wallClock()
        nodes[id] = record
        nodeByPeer[peer] = id
    }
}
