import ZeroTaskProtocol

/// Queue control (`admin_queue`): an admin pauses a method (its tasks are still accepted and
/// queued, none is handed out), resumes it, or purges it (its queued tasks are cancelled, the
/// delayed ones too; the running ones are left alone). Paused methods are durable: the store keeps them.
extension BrokerState {
    /// Applies `action` to `method`'s queue: `{"method", "paused", "queued", "delayed"?, "purged"?}`
    /// (`queued` counts the delayed tasks too, as `stats` does).
    /// - Throws: -32602 for a name that cannot be a method.
    mutating func queueControl(_ method: String, _ action: BrokerCommand.QueueAction, now: MonotonicInstant) throws(BrokerError) -> JSONValue {
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
                if shared != nil { shared!.mayClaim(CollectionOfOne(method)) }
            }
        case .purge:
            purged = purge(method, now: now)
        }
        events.append(.queueControlled(method: method, action: action.rawValue, purged: purged))
        var o = JSONObject()
        o.append("method", .string(method))
        o.append("paused", .bool(limits.paused.contains(method)))
        let delayedCount = delayed.byMethod[method] ?? 0
        o.append("queued", .int(Int64((queues[method]?.liveCount ?? 0) + delayedCount)))
        if delayedCount > 0 { o.append("delayed", .int(Int64(delayedCount))) }
        if let purged { o.append("purged", .int(Int64(purged))) }
        return .object(o)
    }

    private mutating func pausedChanged() {
        if journaling { limits.pausedChanged = true }
    }

    /// Cancels every queued task of `method`, the ones held back until their time (delayed, or
    /// backing off before a retry) too: they show as queued. O(its queue + the delayed tasks);
    /// returns how many.
    ///
    /// Each task is looked at again just before it is cancelled: a queue may hold two entries
    /// that both look live for one task (cancelled and retried by an admin, or claimed and
    /// queued again, while the queue kept other tasks), and cancelling one task may cancel
    /// others (a workflow's task cancels its workflow, which cancels the rest of its tasks).
    mutating func purge(_ method: String, now: MonotonicInstant) -> Int {
        var ids = queues[method]?.heap.filter(isLive).map(\.taskID) ?? []
        if delayed.count > 0 {
            for e in delayed.heap.heap {
                if let t = tasks[e.key], t.method == method, t.status == .queued, t.waitingUntil == e.at { ids.append(e.key) }
            }
        }
        var purged = Set<String>()
        for id in ids where purged.insert(id).inserted {
            // Cancelled already by the workflow of one cancelled before: purged all the same.
            guard let t = tasks[id], t.status == .queued else { continue }
            cancel(t, now: now, by: "an admin (queue purged)")
        }
        return purged.count
    }
}
