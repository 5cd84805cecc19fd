import ZeroTaskProtocol

/// Queue control (`admin_queue`): an admin pauses a method (its tasks are still accepted and
/// queued, none is handed out), resumes it, or purges it (its queued tasks are cancelled; the
/// running ones are left alone). Paused methods are durable: the store keeps them.
extension BrokerState {
    /// Applies `action` to `method`'s queue: `{"method", "paused", "queued", "purged"?}`.
    /// - Throws: -32602 for a name that cannot be a method.
    mutating func queueControl(_ method: String, _ action: BrokerCommand.QueueAction, now: Double) throws(BrokerError) -> JSONValue {
        guard Identifier.isValidMethodName(method), !Identifier.isReservedMethodName(method) else {
            throw .invalidParams("admin_queue: \"\(method)\" is not a valid method name")
        }
        var purged: Int?
        switch action {
        case .pause:
            if limits.paused.insert(method).inserted { pausedChanged() }
        case .resume:
            if limits.paused.remove(method) != nil {
                pausedChanged()
                limits.due.insert(method)
            }
        case .purge:
            purged = purge(method, now: now)
        }
        events.append(.queueControlled(method: method, action: action.rawValue, purged: purged))
        var o = JSONObject()
        o.append("method", .string(method))
        o.append("paused", .bool(limits.paused.contains(method)))
        o.append("queued", .int(Int64(queues[method]?.liveCount ?? 0)))
        if let purged { o.append("purged", .int(Int64(purged))) }
        return .object(o)
    }

    private mutating func pausedChanged() {
        if journaling { limits.pausedChanged = true }
    }

    /// Cancels every queued task of `method` (O(its queue)); returns how many.
    mutating func purge(_ method: String, now: Double) -> Int {
        guard let q = queues[method] else { return 0 }
        let ids = q.heap.filter(isLive).map(\.taskID)
        for id in ids {
            if let t = tasks[id] { cancel(t, now: now, by: "an admin (queue purged)") }
        }
        return ids.count
    }
}
