import ZeroTaskProtocol

/// The broker's rules and limits. Durations are in seconds.
public struct BrokerConfig: Sendable {
    /// A node silent this long is dead; its assigned tasks go back to the queue.
    public var nodeTimeout: Double = 10
    /// A client id active this recently from another peer is taken (client_connect answers -32010).
    public var clientTimeout: Double = 30
    /// A client inactive this long with no task pending is forgotten (its results stay until
    /// their `result_ttl`).
    public var clientTTL: Double = 86400
    /// Finished and failed tasks are deleted this long after they complete.
    public var resultTTL: Double = 86400
    /// How many times a task is queued again after its node was lost or its worker crashed,
    /// before it fails with -32063 (node lost) or -32061 (the last crash). A task's own
    /// `max_retries` overrides it.
    public var maxRetries: Int = 3
    /// Bodies larger than this are refused with -32600.
    public var maxMessageBytes: Int = 1 << 20
    /// Queued tasks allowed in all (client_new_task answers -32070 beyond it).
    public var maxQueued: Int = 2_000_000
    /// Queued tasks allowed per method.
    public var maxQueuedPerMethod: Int = 1_000_000
    /// The longest a long-polling request may be held.
    public var maxWait: Double = 60
    /// How long a `client_call`'s task may run before the durable store is given it. Nobody
    /// can name such a task before its reply (its id is the broker's, told only with the
    /// outcome), so one that completes sooner is written once, with its outcome: one commit on
    /// the call's path instead of two. Its plugin may then act before any record of the task
    /// exists: a broker that dies first leaves the caller without a reply, to call again, like
    /// Gearman's foreground jobs. 0 writes every task before it starts. A call with its own
    /// `task_id` (the client's failover resends) is always written first.
    public var callStoreDelay: Double = 1

    // What one request may ask for (-32602 beyond): a client must not make the broker keep or
    // honour more than the operator allows.
    /// The largest `max_retries` a task may ask for.
    public var maxTaskRetries: Int = 100
    /// The longest `result_ttl` a task may ask for.
    public var maxResultTTL: Double = 7 * 86400
    /// The longest `timeout` a task may ask for.
    public var maxTaskTimeout: Double = 7 * 86400
    /// The furthest ahead a task may ask to start (`delay`, or `not_before` from now).
    public var maxDelay: Double = 366 * 86400
    /// Task ids one `client_wait_results` may name (after removing repeats).
    public var maxWaitIDs: Int = 10_000
    /// Entries one JSON-RPC batch may hold (the whole batch is refused with -32600 beyond).
    public var maxBatchEntries: Int = 1000

    // Parked long polls (-32070 beyond): each holds memory until it is answered.
    /// Result waits (`client_wait_results`, `client_call`) one connection may have parked.
    public var maxParkedWaitsPerConnection: Int = 10_000
    /// Result waits parked in all.
    public var maxParkedWaits: Int = 100_000
    /// Task ids all parked result waits may name together.
    public var maxParkedWaitIDs: Int = 1_000_000

    // Memory budgets.
    /// Bytes of params the queued tasks may hold in all (client_new_task answers -32070 beyond).
    public var maxQueuedBytes: Int = 256 << 20
    /// Completed tasks kept for their results; past it the oldest results are deleted early.
    public var maxResults: Int = 1_000_000
    /// Bytes of results and errors kept in all; past it the oldest results are deleted early.
    public var maxResultBytes: Int = 256 << 20

    // Limits per method (`broker.methods`).
    /// Method name → its concurrency and rate (and retry) as the operator sets them: each field
    /// given here wins over what the plugin's manifest declares (`MethodPolicy.overridden(by:)`).
    public var methodPolicies: [String: MethodPolicy] = [:]
    /// Periodic schedules declared by the config file (`broker.schedules`), again at each start.
    public var schedules: [Schedule] = []

    public init() {}
}
