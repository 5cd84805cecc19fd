import ZeroTaskProtocol

/// A submitted task: ask its state, wait for its result, or cancel it.
///
/// A handle is only an id and its client; `ZeroTaskClient.task(_:)` makes one for a task id
/// known from elsewhere (it must belong to the same client id).
public struct TaskHandle: Sendable {
    /// The broker's task id, `CLIENTID-TASKID`.
    public let id: String
    /// The client that submitted it (tasks are visible only to their own client id).
    public let client: ZeroTaskClient

    /// A handle for a task id known from elsewhere (printed by `zerotask submit`, stored by your program).
    public init(id: String, client: ZeroTaskClient) {
        self.id = id
        self.client = client
    }

    /// The task's state (`client_task_status`).
    public func status() async throws -> TaskStatus {
        let code = try await client.rpc(.clientTaskStatus, .positional([.string(client.clientID), .string(id)]))
        guard let c = code.int64Value, let status = TaskStatus(rawValue: c) else {
            throw ZeroTaskClientError.invalidResponse("client_task_status answered \(code), not a status code")
        }
        return status
    }

    /// Everything the broker knows about the task (`client_task_info`).
    /// A seed-only broker tells only the status (and a failed task's error).
    public func info() async throws -> TaskInfo {
        let json: JSONValue
        do {
            json = try await client.rpc(.clientTaskInfo, .positional([.string(client.clientID), .string(id)]))
        } catch ZeroTaskClientError.unsupported {
            json = try await client.seedTaskInfo(id)
        }
        guard let info = TaskInfo(json: json) else {
            throw ZeroTaskClientError.invalidResponse("client_task_info answered \(json)")
        }
        return info
    }

    /// The result of a completed task, without waiting.
    /// - Throws: `.taskNotComplete` while it is queued or running, `.taskFailed` when it failed.
    public func result() async throws -> JSONValue {
        // client_wait_results with no wait tells "not complete" and "failed" apart without
        // guessing from error codes (a task's own error may carry any code).
        let answer: JSONValue
        do {
            answer = try await client.rpc(.clientWaitResults,
                .positional([.string(client.clientID), .array([.string(id)]), .int(0)]))
        } catch ZeroTaskClientError.unsupported {
            answer = try await client.seedWaitResults([id], wait: 0)
        }
        guard let entry = answer.arrayValue?.first(where: { $0["task_id"]?.stringValue == id }) else {
            throw ZeroTaskClientError.taskNotComplete(taskID: id)
        }
        return try Self.outcome(entry, id)
    }

    /// Waits for the task to complete and returns its result.
    /// - Parameter timeout: how long to wait; nil waits as long as it takes (each long poll
    ///   still has a deadline, so a vanished broker is noticed).
    /// - Throws: `.taskFailed` with the task's error, `.timedOut` (the task keeps running),
    ///   `.brokerUnreachable`, `CancellationError`.
    public func wait(timeout: Duration? = nil) async throws -> JSONValue {
        let seconds = timeout?.seconds
        switch try await client.waiters.wait(for: id, timeout: seconds, client: client) {
        case .success(let v): return v
        case .failure(let e): throw ZeroTaskClientError.taskFailed(taskID: id, error: e)
        }
    }

    /// Waits for the result and decodes it.
    public func wait<T: Decodable>(as type: T.Type, timeout: Duration? = nil) async throws -> T {
        try await wait(timeout: timeout).decode(as: T.self)
    }

    /// Cancels the task: a queued one leaves its queue, a running one fails at once (-32062).
    /// - Returns: false when the task had already completed.
    @discardableResult
    public func cancel() async throws -> Bool {
        let r = try await client.rpc(.clientCancelTask, .positional([.string(client.clientID), .string(id)]))
        return r.boolValue ?? false
    }

    /// A `client_wait_results` entry as a result or a thrown task failure.
    static func outcome(_ entry: JSONValue, _ id: String) throws -> JSONValue {
        switch entryOutcome(entry) {
        case .success(let v): return v
        case .failure(let e): throw ZeroTaskClientError.taskFailed(taskID: id, error: e)
        }
    }

    /// A completed task's entry (`{"task_id", "result"}` or `{"task_id", "error"}`) as its outcome.
    static func entryOutcome(_ entry: JSONValue) -> Result<JSONValue, RPCError> {
        if let e = entry["error"] { return .failure(RPCError(json: e) ?? RPCError(.internalError, "task failed with \(e)")) }
        return .success(entry["result"] ?? .null)
    }
}
