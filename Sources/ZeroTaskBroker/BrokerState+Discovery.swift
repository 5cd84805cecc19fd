import ZeroTaskProtocol

/// `methods`, `nodes` and `stats`: what the broker can tell about itself.
extension BrokerState {
    func methodsSummary() -> JSONValue {
        var byName: [String: (desc: JSONValue, nodes: [String])] = [:]
        for node in nodes.all {
            for (name, desc) in node.methods {
                byName[name, default: (desc, [])].nodes.append(node.id)
            }
        }
        var running: [String: Int] = [:]
        for node in nodes.all {
            for id in node.assigned { if let m = tasks[id]?.method { running[m, default: 0] += 1 } }
        }
        // Methods with queued work but no node are listed too: a user should see them waiting.
        for (name, q) in queues where q.liveCount > 0 && byName[name] == nil { byName[name] = (["name": .string(name)], []) }
        for name in delayed.byMethod.keys where byName[name] == nil { byName[name] = (["name": .string(name)], []) }
        // And methods held back by the operator (paused or limited in the configuration).
        for name in limits.paused.union(limits.gates.keys) where byName[name] == nil { byName[name] = (["name": .string(name)], []) }
        // So are methods no node serves because their plugin is quarantined, with the reasons.
        for (name, holders) in unavailableIndex where byName[name] == nil {
            let reasons: [JSONValue] = holders.sorted().compactMap { id in
                guard var o = nodes[id]?.unavailable[name]?.objectValue else { return nil }
                o["node_id"] = .string(id)
                return .object(o)
            }
            byName[name] = (["name": .string(name), "unavailable": .array(reasons)], [])
        }
        var list: [JSONValue] = byName.keys.sorted().map { name in
            let entry = byName[name]!
            var o = entry.desc.objectValue ?? JSONObject()
            o["name"] = .string(name)
            o["nodes"] = .array(entry.nodes.sorted().map { .string($0) })
            // Delayed tasks are queued too (as in `stats`), and counted apart.
            let delayedCount = delayed.byMethod[name] ?? 0
            o["queued"] = .int(Int64((queues[name]?.liveCount ?? 0) + delayedCount))
            if delayedCount > 0 { o["delayed"] = .int(Int64(delayedCount)) }
            o["running"] = .int(Int64(running[name] ?? 0))
            limitFields(name, into: &o)
            return .object(o)
        }
        if let any = anyMethodEntry() { list.append(any) }
        return .array(list)
    }

    /// The `"*"` entry of `methods`: seed nodes, which serve whatever they claim. Those dropped
    /// for silence are listed apart (`silent_nodes`): their next request brings them back, so a
    /// client may still count on them.
    func anyMethodEntry() -> JSONValue? {
        let live = nodes.all.filter(\.servesAny)
        let silent = nodes.silent.filter(\.servesAny)
        guard !live.isEmpty || !silent.isEmpty else { return nil }
        var o = JSONObject()
        o.append("name", "*")
        o.append("serves_any", true)
        o.append("doc", "any method: seed nodes (registered without a methods list) claim what they hear of")
        o.append("nodes", .array(live.map(\.id).sorted().map { .string($0) }))
        o.append("silent_nodes", .array(silent.map(\.id).sorted().map { .string($0) }))
        o.append("queued", 0)
        o.append("running", .int(Int64(live.reduce(0) { $0 + $1.assigned.count })))
        return .object(o)
    }

    func nodesSummary(now: MonotonicInstant) -> JSONValue {
        .array(nodes.all.sorted { $0.id < $1.id }.map { n in
            var o = JSONObject()
            o.append("node_id", .string(n.id))
            o.append("methods", .array(n.methods.keys.sorted().map { .string($0) }))
            if n.servesAny { o.append("serves_any", true) }
            if !n.tags.isEmpty { o.append("tags", .array(n.tags.sorted().map { .string($0) })) }
            // A seed node that declared no workers runs one task at a time (see freeSlots).
            o.append("workers", .int(Int64(n.servesAny ? max(n.workers, 1) : n.workers)))
            o.append("assigned", .int(Int64(n.assigned.count)))
            o.append("last_seen", .double(((now - n.lastSeen) * 1000).rounded() / 1000))
            o.append("connected_at", .double(n.connectedAt.seconds))
            if !n.status.isEmpty { o.append("status", .object(n.status)) }
            // Remembered from the store after a restart, holding its tasks until it connects again.
            if n.awaitingReconnect { o.append("awaiting_reconnect", true) }
            return .object(o)
        })
    }

    func statsSummary() -> JSONValue {
        // From counts kept as tasks move and from the tasks in flight only: a scan of every task
        // made each `stats` cost as much as a million kept results.
        // Delayed tasks are queued too (held back until their not_before), and counted apart.
        var byStatus: [TaskStatus: Int] = [.queued: queuedCount + delayed.count, .failed: results.failed, .finished: results.count - results.failed]
        for node in nodes.all {
            for id in node.assigned { if let s = tasks[id]?.status { byStatus[s, default: 0] += 1 } }
        }
        var o = JSONObject()
        o.append("tasks", .int(Int64(tasks.count)))
        o.append("queued", .int(Int64(queuedCount + delayed.count)))
        o.append("delayed", .int(Int64(delayed.count)))
        for s in TaskStatus.allCases where s != .queued { o.append(s.description, .int(Int64(byStatus[s] ?? 0))) }
        o.append("nodes", .int(Int64(nodes.count)))
        o.append("clients", .int(Int64(clients.connectedCount)))
        o.append("submitted_total", .int(Int64(counters.submitted)))
        o.append("finished_total", .int(Int64(counters.finished)))
        o.append("failed_total", .int(Int64(counters.failed)))
        o.append("requeued_total", .int(Int64(counters.requeued)))
        o.append("retried_total", .int(Int64(counters.retried)))
        o.append("requests_total", .int(Int64(counters.requests)))
        // Memory budgets: what is held now against its cap, and what the caps cost.
        o.append("queued_bytes", .int(Int64(pendingBytes)))
        o.append("results", .int(Int64(results.count)))
        o.append("result_bytes", .int(Int64(results.bytes)))
        o.append("results_evicted_total", .int(Int64(results.evicted)))
        o.append("parked_waits", .int(Int64(resultWaiters.count)))
        o.append("requests_by_method", .object(JSONObject(counters.byMethod.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })))
        return .object(o)
    }
}
