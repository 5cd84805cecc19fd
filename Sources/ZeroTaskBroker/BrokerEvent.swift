/// Something the operator should hear about: the state machine records it, its owner logs it
/// (the state does no I/O).
public enum BrokerEvent: Sendable, Equatable {
    /// A node registered (or registered again after a broker restart).
    case nodeJoined(nodeID: String, methods: Int, workers: Int)
    /// A node was dropped: its unfinished tasks went back to the queue (`requeued`) or, out of
    /// retries, failed (`failed`).
    case nodeLost(nodeID: String, reason: String, requeued: Int, failed: Int)
    /// Results were deleted before their `result_ttl` to stay within `max_results` and
    /// `max_result_bytes` since the last such event (at most one every 10 s); `kept` and
    /// `bytes` are what remains.
    case resultsEvicted(count: Int, kept: Int, bytes: Int)
    /// A node reported plugins it quarantined (their load crashed or failed): `reasons` is one
    /// line per plugin, naming its file and the cause; their methods are unavailable there.
    case pluginsQuarantined(nodeID: String, reasons: [String])
    /// A task failed: its own error, a node's report, cancellation or retries exhausted.
    case taskFailed(taskID: String, method: String, code: Int64, message: String)
    /// A task went back to its queue (its node was lost, or handed it back) to run again.
    case taskRequeued(taskID: String, method: String, cause: String)
    /// An admin paused, resumed or purged a method's queue (`purged`: the tasks cancelled).
    case queueControlled(method: String, action: String, purged: Int?)
    /// A schedule's tick could not submit its task (a full queue, a method no node serves);
    /// the schedule goes on with its next tick.
    case scheduleTickFailed(schedule: String, taskID: String, reason: String)
}

extension BrokerEvent: CustomStringConvertible {
    /// Whether it is worth a warning (something was lost or deleted early), not just a notice.
    public var isTrouble: Bool {
        switch self {
        case .nodeJoined: false
        // A node that said goodbye holding nothing is news, not trouble.
        case let .nodeLost(_, reason, requeued, failed): reason != "disconnected" || requeued + failed > 0
        case .resultsEvicted, .pluginsQuarantined, .scheduleTickFailed: true
        case .taskFailed, .taskRequeued, .queueControlled: false
        }
    }

    /// A name per case, for rate limits and log shippers (`kind` in JSON logs).
    public var kind: String {
        switch self {
        case .nodeJoined: "node_joined"
        case .nodeLost: "node_lost"
        case .resultsEvicted: "results_evicted"
        case .pluginsQuarantined: "plugins_quarantined"
        case .taskFailed: "task_failed"
        case .taskRequeued: "task_requeued"
        case .queueControlled: "queue_controlled"
        case .scheduleTickFailed: "schedule_tick_failed"
        }
    }

    public var description: String {
        switch self {
        case let .nodeJoined(id, methods, workers):
            "node \(id) joined: \(methods) methods, \(workers == 0 ? "unknown" : String(workers)) workers"
        case let .nodeLost(id, reason, requeued, failed):
            "node \(id) lost (\(reason)): \(requeued) tasks went back to the queue"
                + (failed > 0 ? ", \(failed) failed out of retries" : "")
        case let .resultsEvicted(count, kept, bytes):
            "deleted \(count) of the oldest results before their result_ttl to stay within max_results/max_result_bytes (\(kept) results, \(bytes) bytes kept)"
        case let .pluginsQuarantined(id, reasons):
            "node \(id) quarantined \(reasons.count == 1 ? "a plugin" : "\(reasons.count) plugins"): " + reasons.joined(separator: "; ")
        case let .taskFailed(id, method, code, message):
            "task \(id) (\(method)) failed: \(message) (code \(code))"
        case let .taskRequeued(id, method, cause):
            "task \(id) (\(method)) queued again: \(cause)"
        case let .queueControlled(method, action, purged):
            "queue of \(method): \(action)d by an admin" + (purged.map { " (\($0) queued tasks cancelled)" } ?? "")
        case let .scheduleTickFailed(schedule, id, reason):
            "schedule \(schedule): tick \(id) not submitted: \(reason)"
        }
    }
}
