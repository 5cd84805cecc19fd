import ZeroTaskProtocol

/// What a task is, as its client described it: the one list of a task's own fields, shared by
/// a submission (`Submission`), the broker's record (`TaskRecord`) and the store's row
/// (`StoredTask`), so a new field is added once.
///
/// Left out on purpose: the ids and the submission order (the broker gives them), and
/// `max_retries`, which a submission may leave to the broker's default while a record holds
/// the number it was given.
public struct TaskSpec: Sendable, Equatable {
    public var method: String
    /// The task's params as submitted; a record drops them (null) once the task has finished
    /// (a failed or cancelled one keeps them, for an admin's retry).
    public var params: JSONValue
    /// Higher runs first; FIFO within a priority.
    public var priority: Int64
    /// Seconds a node may run it; nil: no limit.
    public var timeout: Double?
    /// Seconds the result is kept after completion; nil: the broker's `result_ttl`.
    public var resultTTL: Double?
    /// Wall-clock time (seconds since 1970) before which the task does not start; nil: at once.
    /// A `delay` on submission becomes this; a retry after an application error sets it to the
    /// end of the back-off.
    public var notBefore: WallInstant?
    /// The task's own retry policy for application errors; nil: the method's (its manifest's).
    public var retry: RetryPolicy?
    /// Tags a node must all have to be given the task (`node --tags`), sorted, without repeats;
    /// empty: any node serving the method.
    public var tags: [String]

    public init(method: String, params: JSONValue, priority: Int64 = 0, timeout: Double? = nil, resultTTL: Double? = nil,
        notBefore: WallInstant? = nil, retry: RetryPolicy? = nil, tags: [String] = [])
    {
        self.method = method
        self.params = params
        self.priority = priority
        self.timeout = timeout
        self.resultTTL = resultTTL
        self.notBefore = notBefore
        self.retry = retry
        self.tags = tags
    }
}
