import ZeroTaskProtocol

/// What the broker knows about one task (`client_task_info`).
public struct TaskInfo: Sendable, Equatable {
    /// The broker's task id, `CLIENTID-TASKID`.
    public var taskID: String
    /// The method it runs.
    public var method: String
    /// Its state now.
    public var status: TaskStatus
    /// Higher runs first.
    public var priority: Int64
    /// How many times the task was handed to a node.
    public var attempts: Int
    /// The node running it (or that ran it last), if any.
    public var nodeID: String?
    /// The latest progress fields its node reported.
    public var progress: JSONObject?
    /// Wall-clock times, seconds since 1970.
    public var created: Double?
    /// When a node started it (seconds since 1970), if it has.
    public var started: Double?
    /// When it completed (seconds since 1970), if it has.
    public var finished: Double?
    /// The task's deadline on the node, in seconds, when one was set.
    public var timeout: Double?
    /// The error of a failed task.
    public var error: RPCError?
    /// The wall-clock time (seconds since 1970) before which it does not start: its `delay` or
    /// `not_before`, or the end of a retry's back-off.
    public var notBefore: Double?
    /// Whether it is held back until `notBefore` (queued, but not yet in its method's queue).
    public var delayed: Bool
    /// The runs that failed with an application error and were retried (and the last one, once
    /// retries ran out), oldest first.
    public var history: [FailedAttempt]

    /// One failed run of a task.
    public struct FailedAttempt: Sendable, Equatable {
        /// The task's attempt number, from 1.
        public var attempt: Int
        /// The node that ran it.
        public var nodeID: String?
        /// What the method reported.
        public var error: RPCError
        /// When (seconds since 1970).
        public var at: Double
    }
    /// The whole object as the broker sent it (fields this type does not name are kept here).
    public var json: JSONValue

    /// Reads a `client_task_info` answer; nil when it lacks the id, method or a known status.
    public init?(json: JSONValue) {
        guard let id = json["task_id"]?.stringValue, let code = json["status"]?.int64Value,
            let status = TaskStatus(rawValue: code)
        else { return nil }
        taskID = id
        method = json["method"]?.stringValue ?? ""
        self.status = status
        priority = json["priority"]?.int64Value ?? 0
        attempts = Int(json["attempts"]?.int64Value ?? 0)
        nodeID = json["node_id"]?.stringValue
        progress = json["progress"]?.objectValue
        created = json["created"]?.doubleValue
        started = json["started"]?.doubleValue
        finished = json["finished"]?.doubleValue
        timeout = json["timeout"]?.doubleValue
        error = json["error"].flatMap(RPCError.init(json:))
        notBefore = json["not_before"]?.doubleValue
        delayed = json["delayed"]?.boolValue == true
        history = (json["history"]?.arrayValue ?? []).compactMap { a in
            guard let n = a["attempt"]?.int64Value, let e = a["error"].flatMap(RPCError.init(json:)) else { return nil }
            return FailedAttempt(attempt: Int(n), nodeID: a["node_id"]?.stringValue, error: e, at: a["at"]?.doubleValue ?? 0)
        }
        self.json = json
    }
}
