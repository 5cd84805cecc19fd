/// The broker's rules and limits. Durations are in seconds.
public struct BrokerConfig: Sendable {
    /// A node silent this long is dead; its assigned tasks go back to the queue.
    public var nodeTimeout: Double = 10
    /// A client id active this recently from another peer is taken (client_connect answers -32010).
    public var clientTimeout: Double = 30
    /// A client inactive this long is forgotten with its finished tasks.
    public var clientTTL: Double = 7 * 86400
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

    public init() {}
}
