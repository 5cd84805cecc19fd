import ZeroTaskProtocol

/// `methods`, `nodes` and `stats`: what the broker can tell about itself.
extension BrokerState {
    func methodsSummary() -> JSONValue {
        var byName: [String: (desc: JSONValue, nodes: [String])] = [:]
        for node in nodes.values {
            for (name, desc) in node.methods {
                byName[name, default: (desc, [])].nodes.append(node.id)
            }
        }
        var running: [String: Int] = [:]
        for node in nodes.values {
            for id in node.assigned { if let m = tasks[id]?.method { running[m, default: 0] += 1 } }
        }
        // Methods with queued work but no node are listed too: a user should see them waiting.
        for (name, q) in queues where q.liveCount > 0 && byName[name] == nil { byName[name] = (["name": .string(name)], []) }
        // So are methods no node serves because their plugin is quarantined, with the reasons.
        for (name, holders) in unavailableIndex where byName[name] == nil {
            let reasons: [JSONValue] = holders.sorted().compactMap { id in
                guard var o = nodes[id]?.unavailable[name]?.objectValue else { return nil }
                o["node_id"] = .string(id)
                return .object(o)
            }
            byName[name] = (["name": .string(name), "unavailable": .array(reasons)], [])
        }
        return .array(byName.keys.sorted().map { name in
            let entry = byName[name]!
            var o = entry.desc.objectValue ?? JSONObject()
            o["name"] = .string(name)
            o["nodes"] = .array(entry.nodes.sorted().map { .string($0) })
            o["queued"] = .int(Int64(queues[name]?.liveCount ?? 0))
            o["running"] = .int(Int64(running[name] ?? 0))
            return .object(o)
        })
    }

    func nodesSummary(now: Double) -> JSONValue {
        .array(nodes.keys.sorted().map { id in
            let n = nodes[id]!
            var o = JSONObject()
            o.append("node_id", .string(id))
            o.append("methods", .array(n.methods.keys.sorted().map { .string($0) }))
            o.append("workers", .int(Int64(n.workers)))
            o.append("assigned", .int(Int64(n.assigned.count)))
            o.append("last_seen", .double(((now - n.lastSeen) * 1000).rounded() / 1000))
            o.append("connected_at", .double(n.connectedAt))
            if !n.status.isEmpty { o.append("status", .object(n.status)) }
            // Remembered from the store after a restart, holding its tasks until it connects again.
            if n.awaitingReconnect { o.append("awaiting_reconnect", true) }
            return .object(o)
        })
    }

    func statsSummary() -> JSONValue {
        var byStatus: [TaskStatus: Int] = [:]
        for t in tasks.values { byStatus[t.status, default: 0] += 1 }
        var o = JSONObject()
        o.append("tasks", .int(Int64(tasks.count)))
        o.append("queued", .int(Int64(queuedCount)))
        for s in TaskStatus.allCases where s != .queued { o.append(s.description, .int(Int64(byStatus[s] ?? 0))) }
        o.append("nodes", .int(Int64(nodes.count)))
        o.append("clients", .int(Int64(clients.values.filter(\.connected).count)))
        o.append("submitted_total", .int(Int64(counters.submitted)))
        o.append("finished_total", .int(Int64(counters.finished)))
        o.append("failed_total", .int(Int64(counters.failed)))
        o.append("requeued_total", .int(Int64(counters.requeued)))
        o.append("requests_total", .int(Int64(counters.requests)))
        o.append("requests_by_method", .object(JSONObject(counters.byMethod.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })))
        return .object(o)
    }
}
