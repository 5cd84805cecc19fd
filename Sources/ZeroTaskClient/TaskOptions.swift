import ZeroTaskProtocol

/// How the broker should treat one submitted task.
public struct TaskOptions: Sendable, Equatable {
    /// Higher runs first; FIFO within a priority.
    public var priority: Int64
    /// The task's deadline on the node (sent to the broker as `timeout`); nil: the method's default.
    public var timeout: Duration?
    /// How many times a task lost with its node is queued again; nil: the broker's default.
    public var maxRetries: Int?
    /// The caller's own id for the task; the broker prefixes it with the client id.
    public var taskID: String?
    /// How long the broker keeps the result after the task completes; nil: the broker's default.
    public var resultTTL: Duration?
    /// How long after its submission the task may start (`delay`); nil: at once.
    public var delay: Duration?
    /// The wall-clock time, in seconds since 1970, before which the task does not start
    /// (`not_before`); nil: at once. Give this or `delay`, not both (the broker refuses both).
    public var notBefore: Double?
    /// How the task is tried again after its method fails with an application error; nil: the
    /// method's policy (its plugin manifest's `retry`), else one attempt.
    public var retry: RetryPolicy?

    /// Tags a node must all have to run the task (`zerotask node --tags gpu,eu`); empty: any node
    /// serving the method. A task whose tags no connected node has waits in its queue.
    public var tags: [String]

    /// Options for `submit`, `call` and batches; the defaults queue like the broker does.
    public init(priority: Int64 = 0, timeout: Duration? = nil, maxRetries: Int? = nil, taskID: String? = nil,
        resultTTL: Duration? = nil, delay: Duration? = nil, notBefore: Double? = nil, retry: RetryPolicy? = nil,
        tags: [String] = [])
    {
        self.priority = priority
        self.timeout = timeout
        self.maxRetries = maxRetries
        self.taskID = taskID
        self.resultTTL = resultTTL
        self.delay = delay
        self.notBefore = notBefore
        self.retry = retry
        self.tags = tags
    }

    /// Whether the seed spec's `client_new_task(client_id, method, params, [task_id])` says it
    /// all: then the task goes by position, which any seed broker reads.
    var fitsSeedForm: Bool {
        timeout == nil && priority == 0 && maxRetries == nil && resultTTL == nil && delay == nil && notBefore == nil && retry == nil
            && tags.isEmpty
    }

    /// The named fields of `client_new_task` (or of one entry of `client_new_tasks`).
    func append(to o: inout JSONObject) {
        if let taskID { o.append("task_id", .string(taskID)) }
        if let timeout { o.append("timeout", .double(timeout.seconds)) }
        if priority != 0 { o.append("priority", .int(priority)) }
        if let maxRetries { o.append("max_retries", .int(Int64(maxRetries))) }
        if let resultTTL { o.append("result_ttl", .double(resultTTL.seconds)) }
        if let delay { o.append("delay", .double(delay.seconds)) }
        if let notBefore { o.append("not_before", .double(notBefore)) }
        if let retry { o.append("retry", retry.json) }
        if !tags.isEmpty { o.append("tags", .array(tags.map { .string($0) })) }
    }
}

/// One task of a batch submission.
public struct TaskSpec: Sendable, Equatable {
    /// The method to run.
    public var method: String
    /// Its params.
    public var params: Params
    /// How it is queued.
    public var options: TaskOptions

    /// One task of a batch (`ZeroTaskClient.submitBatch`).
    public init(_ method: String, _ params: Params = .none, options: TaskOptions = TaskOptions()) {
        self.method = method
        self.params = params
        self.options = options
    }

    /// The entry of a `client_new_tasks` list.
    var json: JSONValue {
        var o = JSONObject()
        o.append("method", .string(method))
        o.append("params", params.json)
        options.append(to: &o)
        return .object(o)
    }
}

extension Duration {
    /// The duration in seconds, as the protocol writes durations.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
