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
    /// Send a reply that was held back (a long poll that was answered later).
    case reply(ReplyRoute, Response)
    /// Publish a notification on the PUB socket.
    case publish([UInt8])
}

/// The answer to one request.
public enum BrokerAnswer: Sendable, Equatable {
    case result(JSONValue)
    case error(RPCError)
    /// A long poll was parked; its reply will come out of `outputs` later.
    case deferred
}

/// The broker's rules as a state machine: clients, nodes, queues, assignment, liveness.
/// It does no I/O and reads no clock: callers pass `now` (monotonic seconds) and the outputs
/// it queues (notifications, late replies) are sent by its owner.
public struct BrokerState: Sendable {
    public let config: BrokerConfig
    /// Wall-clock time for the timestamps users see; injected so tests are repeatable.
    let wallClock: @Sendable () -> Double

    var clients: [String: ClientRecord] = [:]
    var nodes: [String: NodeRecord] = [:]
    /// Method → the nodes that have it quarantined (see `BrokerState+Unavailable`).
    var unavailableIndex: [String: Set<String>] = [:]
    /// Which node registered on which peer (the seed `node_task_request(task_id)` form).
    var nodeByPeer: [[UInt8]: String] = [:]
    /// Nodes dropped for silence, by the peer they spoke from: the next request from that
    /// connection registers them again (a seed node never heartbeats, yet is not dead).
    var silentByPeer: [[UInt8]: NodeRecord] = [:]
    var tasks: [String: TaskRecord] = [:]
    var queues: [String: TaskQueue] = [:]
    var queuedCount = 0
    var nextSequence: UInt64 = 0
    /// Long polls waiting for work or results.
    var nodeWaiters = NodeWaiterSet()
    var resultWaiters = ResultWaiterSet()
    var lastSweep: Double = -.infinity
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

    struct Counters: Sendable {
        var submitted = 0, finished = 0, failed = 0, requeued = 0, requests = 0
        /// Requests per broker method (without the `zerotask.broker.` prefix).
        var byMethod: [String: Int] = [:]
    }

    public init(config: BrokerConfig = BrokerConfig(), wallClock: @escaping @Sendable () -> Double, idPrefix: String) {
        self.config = config
        self.wallClock = wallClock
        self.idPrefix = idPrefix
    }

    /// Hands the queued outputs to the caller and clears them.
    public mutating func takeOutputs() -> [BrokerOutput] {
        defer { outputs.removeAll(keepingCapacity: true) }
        return outputs
    }

    mutating func publish(_ bytes: [UInt8]) { outputs.append(.publish(bytes)) }

    /// Hands the recorded events to the caller (to log) and clears them.
    public mutating func takeEvents() -> [BrokerEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    public var taskCount: Int { tasks.count }
    public var queuedTaskCount: Int { queuedCount }
}

struct ClientRecord: Sendable {
    let id: String
    /// The connection that holds the id (`Connection.none`: nobody since the broker restarted).
    var connection: Connection
    var lastSeen: Double
    var connected = true
    /// Its tasks not yet complete: a client with any is never forgotten for inactivity.
    var pending = 0

    /// Whether a connection other than `other` holds the id now: connected, with a connection,
    /// heard from within `timeout` (`client_timeout`). Such an id is not for `other` to use.
    func isHeld(byOtherThan other: Connection, now: Double, timeout: Double) -> Bool {
        connected && connection != other && connection != .none && now - lastSeen < timeout
    }
}

struct NodeRecord: Sendable {
    let id: String
    /// The connection that registered the node: the only one that may speak for it.
    var connection: Connection
    var peer: [UInt8] { connection.peer }
    var lastSeen: Double
    /// Method name → description as the node advertised it (an object with at least "name").
    var methods: [String: JSONValue] = [:]
    /// Registered without a `methods` list (the seed form): it may claim any task it asks for.
    var servesAny = false
    /// Method name → why the node cannot serve it (a quarantined plugin): `{name, plugin, file, reason}`.
    var unavailable: [String: JSONValue] = [:]
    /// Declared worker count; 0 means unknown (no capacity limit enforced, except 1 for a seed node).
    var workers = 0
    var assigned: Set<String> = []
    var status = JSONObject()
    var connectedAt: Double
    /// Remembered from the store after a restart because tasks are assigned to it: it holds
    /// them for `node_timeout` until the node connects again, and answers nothing else meanwhile.
    var awaitingReconnect = false
    /// Tasks the store says this node runs that it has not confirmed since the restart (by
    /// reporting them or listing them in `node_check_tasks`): the reply assigning them may
    /// have died with the old broker. Those left at `confirmBy` are queued again.
    var unconfirmed: Set<String> = []
    var confirmBy = Double.infinity
    /// Assigned tasks the node's last complete `node_check_tasks` list did not name: missing
    /// from the next one too, they are queued again (the assignment never reached the node).
    var missing: Set<String> = []

    /// Tasks the node takes at once when it prefetches for fast methods (0: as many as workers).
    var capacity = 0

    var freeSlots: Int {
        // A seed node that declared no workers runs one task at a time: the seed spec's node
        // is one REQ socket, and without a limit it would claim every task it hears of.
        let slots = max(workers, capacity, servesAny ? 1 : 0)
        return slots > 0 ? max(0, slots - assigned.count) : Int.max
    }
}

