import ZeroTaskProtocol

/// The seed methods standing in for extensions a seed-only broker lacks (it answered -32601):
/// results are found by polling `client_task_status`, then read with `client_task_result`.
extension ZeroTaskClient {
    /// What `client_wait_results` would answer, from seed methods: an entry
    /// (`{"task_id", "status", "result"}` or `{…, "error"}`) for each task that is complete,
    /// polling until one is or `wait` seconds pass. The polls start fast and back off, so a
    /// short task is seen soon and a long one costs a few requests a second.
    func seedWaitResults(_ ids: [String], wait: Double) async throws -> JSONValue {
        let deadline = MonotonicInstant.now() + wait
        var pause = 0.005
        while true {
            var done: [JSONValue] = []
            for id in ids {
                if let entry = try await seedEntry(id) { done.append(entry) }
            }
            if !done.isEmpty || MonotonicInstant.now() >= deadline { return .array(done) }
            try await Task.sleep(for: .seconds(min(pause, max(0, deadline - MonotonicInstant.now()))))
            pause = min(pause * 2, 0.25)
        }
    }

    /// What `client_task_info` would answer, as far as seed methods tell: the task id, its
    /// status and a failed task's error.
    func seedTaskInfo(_ id: String) async throws -> JSONValue {
        var o = JSONObject()
        o.append("task_id", .string(id))
        let status = try await seedStatus(id)
        o.append("status", .int(status.rawValue))
        if status == .failed, let error = try await seedEntry(id, status: status)?["error"] { o.append("error", error) }
        return .object(o)
    }

    private func seedStatus(_ id: String) async throws -> TaskStatus {
        let code = try await rpc(.clientTaskStatus, .positional([.string(clientID), .string(id)]))
        guard let c = code.int64Value, let status = TaskStatus(rawValue: c) else {
            throw ZeroTaskClientError.invalidResponse("client_task_status answered \(code), not a status code")
        }
        return status
    }

    /// A complete task's entry; nil while it is not complete. `known`: its status, when the
    /// caller has just asked for it.
    private func seedEntry(_ id: String, status known: TaskStatus? = nil) async throws -> JSONValue? {
        let status: TaskStatus
        if let known { status = known } else { status = try await seedStatus(id) }
        guard status.isComplete else { return nil }
        var o = JSONObject()
        o.append("task_id", .string(id))
        o.append("status", .int(status.rawValue))
        do {
            o.append("result", try await rpc(.clientTaskResult, .positional([.string(clientID), .string(id)])))
        } catch ZeroTaskClientError.invalidRequest(let e) where status == .failed {
            // For a failed task the seed spec answers with the task's own error.
            o.append("error", e.json)
        }
        return .object(o)
    }
}
