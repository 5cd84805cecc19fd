import ZeroTaskProtocol

/// Operations on every client's tasks (`admin_*`; an admin key when the broker has keys).
extension ZeroTaskClient {
    /// One page of tasks matching `filters` (PROTOCOL.md, "Operations"), newest first:
    /// `{tasks, next_cursor}`.
    public func adminTasks(_ filters: JSONObject) async throws -> JSONObject {
        try await object(.adminTasks, filters)
    }

    /// Sends failed or cancelled tasks back to their queues: `{retried, skipped}`.
    public func adminRetry(taskIDs: [String]) async throws -> JSONObject {
        try await object(.adminRetry, ["task_ids": .array(taskIDs.map { .string($0) })])
    }

    /// Pauses a method's queue (tasks are accepted, none is handed out), resumes it, or purges
    /// it (its queued tasks are cancelled, running ones are left alone):
    /// `{method, paused, queued, purged?}`.
    public func adminQueue(_ method: String, action: QueueAction) async throws -> JSONObject {
        try await object(.adminQueue, ["method": .string(method), "action": .string(action.rawValue)])
    }

    /// What `adminQueue` does to a method's queue.
    public enum QueueAction: String, Sendable, CaseIterable {
        case pause, resume, purge
    }

    private func object(_ method: BrokerMethod, _ params: JSONObject) async throws -> JSONObject {
        let answer = try await rpc(method, .named(params))
        guard let o = answer.objectValue else { throw ZeroTaskClientError.invalidResponse("\(method.rawValue) answered \(answer)") }
        return o
    }
}
