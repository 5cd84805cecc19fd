import ZeroTaskProtocol

/// Where a reply goes: the ROUTER envelope it came with and the request id.
public struct ReplyRoute: Sendable {
    /// Every frame before the body (routing identity, and the empty delimiter for REQ peers).
    public var envelope: [[UInt8]]
    public var id: JSONValue

    public init(envelope: [[UInt8]], id: JSONValue) {
        self.envelope = envelope
        self.id = id
    }

    /// The peer: the routing identity the ROUTER assigned to the connection.
    public var peer: [UInt8] { envelope.first ?? [] }
}

/// Something the broker's I/O owner must do after an event.
public enum BrokerOutput: Sendable {
    /// Send a reply that was held back (a long poll that was answered later): a value, written
    /// as JSON by the I/O owner (`BrokerReply.json`). Parked requests are only ever answered with
    /// a result: their refusals come at once, as the request's own answer.
    case reply(ReplyRoute, BrokerReply)
    /// Publish a notification on the PUB socket (its bytes are written by the I/O owner).
    case publish(BrokerNotification)
}

/// A notification the rules decide to publish, as a value: its bytes are written once, at the
/// edge (`bytes`, in Notifications.swift), by whoever sends it.
public enum BrokerNotification: Sendable, Equatable {
    /// A task of `method` was queued (`broker_new_task`: nodes that serve it may claim it).
    case newTask(method: String, taskID: String)
    /// The same, under the prototype's name (`task_ready`).
    case taskReady(method: String, taskID: String)
    /// A client's task completed (`task_result_ready`).
    case resultReady(taskID: String)
    /// Every node is asked for its status (`broker_node_status`).
    case nodeStatusRequest
    /// A running task was cancelled: its node stops it (`task_cancel`).
    case cancelTask(nodeID: String, taskID: String)
}

/// The answer to one request, as values: the I/O owner writes the JSON-RPC response.
public enum BrokerAnswer: Sendable, Equatable {
    case reply(BrokerReply)
    /// A refusal, mapped to its JSON-RPC code in one place (`BrokerError.rpcError`), or a
    /// param decoder's -32602.
    case error(RPCError)
    /// A long poll was parked; its reply will come out of `outputs` later.
    case deferred
}

/// The broker's rules as a state machine: clients, nodes, queues, assignment, liveness.
/// It does no I/O and reads no clock: callers pass `now` (a `MonotonicInstant`) and the outputs
/// it queues (notifications, late replies) are sent by its owner.
public struct BrokerState: Sendable {
    public let config: BrokerConfig
    /// Wall-clock time for the timestamps users see; injected so tests are repeatable.
    let wallClock: @Sendable () -> WallInstant

    var clients: ClientRegistry
    var nodes = NodeRegistry()
    /// Method → the nodes that have it quarantined (see `BrokerState+Unavailable`).
    var unavailableIndex: [String: Set<String>] = [:]
    var tasks: [String: TaskRecord] = [:]
    var queues: [String: TaskQueue] = [:]
    var queuedCount = 0
    /// The workflow each pending workflow task belongs to (`BrokerState+Workflows`).
    var workflowOf: [String: String] = [:]
    /// Queued tasks held back until their `not_before` (BrokerState+Delays), in no queue yet.
    var delayed = DelayedTasks()
    /// Concurrency and rate gates, paused methods (see `BrokerState+Limits`).
    var limits: MethodLimits
    var nextSequence: UInt64 = 0
    /// Long polls waiting for work or results.
    var nodeWaiters = NodeWaiterSet()
    var resultWaiters = ResultWaiterSet()
    var lastSweep = MonotonicInstant.distantPast
    /// Completed tasks by the time their results expire (each task's `result_ttl` or the broker's).
    var resultExpiry = ResultExpiry()
    var counters = Counters()
    /// Bytes of params held by tasks not yet complete (`max_queued_bytes`).
    var pendingBytes = 0
    /// Completed tasks kept for their results, within `max_results` and `max_result_bytes`.
    var results = ResultBudget()
    /// What to tell the operator, until the owner takes it.
    var events: [BrokerEvent] = []
    /// Told of each task's transitions (metrics); nil: nobody listens.
    public var observer: (any TaskObserver)?
    /// A prefix that makes generated task ids unique across broker restarts.
    let idPrefix: String

    public internal(set) var outputs: [BrokerOutput] = []
    /// What subscribers want; notifications nobody wants are neither built nor sent.
    public var interest = NotificationInterest.all
    /// Whether durable changes are recorded for a store (off for the memory store: no cost).
    public var journaling = false
    /// Tasks and clients changed since the last `takeChanges`; an id no longer in `tasks` or
    /// `clients` was deleted.
    var changedTasks: Set<String> = []
    var changedClients: Set<String> = []
    /// `client_call` tasks not given to the store yet, by when they must be (`BrokerState+Journal`).
    var unstoredCalls = UnstoredCalls()
    /// Periodic schedules (`BrokerState+Schedules`), and when the next tick is due (monotonic).
    var schedules = ScheduleBook()
    var scheduleDeadline: MonotonicInstant?
    var changedSchedules: Set<String> = []
    /// Set on a shared PostgreSQL queue (`BrokerState+Shared`); nil for a broker of its own.
    var shared: SharedQueue?

    struct Counters: Sendable {
        var submitted = 0, finished = 0, failed = 0, requeued = 0, requests = 0
        /// Runs tried again after an application error (BrokerState+Retries).
        var retried = 0
        /// Requests per broker method (without the `zerotask.broker.` prefix).
        var byMethod: [String: Int] = [:]
    }

    public init(config: BrokerConfig = BrokerConfig(), wallClock: @escaping @Sendable () -> WallInstant, idPrefix: String) {
        self.config = config
        self.wallClock = wallClock
        self.idPrefix = idPrefix
        self.clients = ClientRegistry(timeout: config.clientTimeout)
        self.limits = MethodLimits(configured: config.methodPolicies)
    }

    /// Hands the queued outputs to the caller and clears them.
    public mutating func takeOutputs() -> [BrokerOutput] {
        defer { outputs.removeAll(keepingCapacity: true) }
        return outputs
    }

    mutating func publish(_ notification: BrokerNotification) { outputs.append(.publish(notification)) }

    /// Hands the recorded events to the caller (to log) and clears them.
    public mutating func takeEvents() -> [BrokerEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    public var taskCount: Int { tasks.count }
    public var queuedTaskCount: Int { queuedCount }
}
