import ZeroTaskProtocol

/// Where the broker keeps what must survive a restart: clients and tasks with their states and
/// results.
///
/// `BrokerState` stays authoritative in memory; it records which tasks and clients changed, and
/// the broker thread writes those changes with `write` once per loop iteration, in one
/// transaction, before it sends that iteration's replies (group commit). A store is used by the
/// broker thread only.
public protocol TaskStore: AnyObject {
    /// What to call it in logs: `memory`, `sqlite:PATH`.
    var description: String { get }
    /// Whether it keeps anything; when false the broker skips recording changes altogether.
    var isDurable: Bool { get }
    /// Everything kept, read once when the broker starts.
    func load() throws(StoreError) -> StoreContents
    /// Applies one iteration's changes atomically: all of them or none.
    func write(_ changes: StoreChanges) throws(StoreError)
    /// Releases the file; the store is not used afterwards.
    func close()
    /// `write`, and on a shared queue what `changes.shared` asks (claims, read-backs) in the
    /// same transaction, with what it brought back. Other stores write and bring back nothing.
    func exchange(_ changes: StoreChanges) throws(StoreError) -> StoreFeedback
}

extension TaskStore {
    public func exchange(_ changes: StoreChanges) throws(StoreError) -> StoreFeedback {
        try write(changes)
        return StoreFeedback()
    }
}

/// What a broker on a shared queue asks of a commit besides its changes (`BrokerState+Shared`).
public struct SharedQueueRequest: Sendable {
    /// A claim handed back: the task and the attempt that fences it.
    public struct Release: Sendable, Equatable {
        public var id: String
        public var attempt: Int
        public init(id: String, attempt: Int) {
            self.id = id
            self.attempt = attempt
        }
    }

    /// What to claim: up to `limit` tasks of these methods, best first.
    public struct Claim: Sendable, Equatable {
        public var methods: Set<String>
        public var limit: Int
        /// `SharedQueue.claimEpoch` when asked: what the broker knew then.
        public var epoch: Int
        public init(methods: Set<String>, limit: Int, epoch: Int = 0) {
            self.methods = methods
            self.limit = limit
            self.epoch = epoch
        }
    }

    /// The room the nodes here have: claim for it.
    public var claim: Claim?
    /// Tasks another broker holds (or none yet) whose state to read back.
    public var watch: [String] = []
    /// Whether to read the watched tasks still open too (else only those with an outcome).
    public var watchOpen = false
    /// Claims to put back in the queue.
    public var releases: [Release] = []

    public init() {}

    public var isEmpty: Bool { claim == nil && watch.isEmpty && releases.isEmpty }
}

/// What a commit on a shared queue brought back.
public struct StoreFeedback: Sendable {
    /// Tasks claimed for this broker (`StoredTask.claim` is the attempt).
    public var claimed: [StoredTask] = []
    /// The claim this commit made, if any (with `claimed`, whether more may be waiting).
    public var asked: SharedQueueRequest.Claim?
    /// Tasks whose write the fence refused: another broker holds them now.
    public var refused: [String] = []
    /// The watched tasks as the database has them.
    public var watched: [StoredTask] = []

    public init() {}

    public var isEmpty: Bool { asked == nil && refused.isEmpty && watched.isEmpty }
}

/// A task as the store keeps it: everything but what only matters while the broker runs
/// (progress, monotonic times).
public struct StoredTask: Sendable, Equatable {
    public var id: String
    public var clientID: String
    public var spec: TaskSpec
    public var sequence: UInt64
    public var maxRetries: Int
    public var attempts: Int
    public var status: TaskStatus
    /// The node it is assigned to while assigned or running.
    public var nodeID: String?
    public var result: JSONValue?
    public var error: RPCError?
    /// Wall-clock times, seconds since 1970.
    public var created: WallInstant
    public var started: WallInstant?
    public var finished: WallInstant?
    /// The failed runs that were retried (and the last one once retries ran out), oldest first.
    public var history: [FailedAttempt]
    /// What the fields do not keep (`TaskEvent`), for its recorded timeline.
    public var events: [TaskEvent] = []
    /// On a shared PostgreSQL queue: the attempt this broker's claim holds (its fence), nil
    /// when it holds none. Other stores ignore it.
    public var claim: Int?
    /// Written for the first time with its outcome, and known to nobody but this broker until
    /// now (a `client_call` stored once: `BrokerConfig.callStoreDelay`): there is no earlier
    /// row to replace, and no other broker to tell. Other stores ignore it.
    public var neverStored = false

    public init(
        id: String, clientID: String, spec: TaskSpec, sequence: UInt64, maxRetries: Int = 3, attempts: Int = 0,
        status: TaskStatus = .queued, nodeID: String? = nil, result: JSONValue? = nil, error: RPCError? = nil,
        created: WallInstant, started: WallInstant? = nil, finished: WallInstant? = nil, history: [FailedAttempt] = [], events: [TaskEvent] = []
    ) {
        self.id = id
        self.clientID = clientID
        self.spec = spec
        self.sequence = sequence
        self.maxRetries = maxRetries
        self.attempts = attempts
        self.status = status
        self.nodeID = nodeID
        self.result = result
        self.error = error
        self.created = created
        self.started = started
        self.finished = finished
        self.history = history
        self.events = events
    }

    /// A row from the spec's fields one by one (the stores' columns, the tests).
    public init(
        id: String, clientID: String, method: String, params: JSONValue, priority: Int64 = 0, sequence: UInt64,
        timeout: Double? = nil, maxRetries: Int = 3, resultTTL: Double? = nil, attempts: Int = 0, status: TaskStatus = .queued,
        nodeID: String? = nil, result: JSONValue? = nil, error: RPCError? = nil, created: WallInstant,
        started: WallInstant? = nil, finished: WallInstant? = nil, notBefore: WallInstant? = nil, retry: RetryPolicy? = nil,
        history: [FailedAttempt] = [], events: [TaskEvent] = []
    ) {
        self.init(
            id: id, clientID: clientID,
            spec: TaskSpec(method: method, params: params, priority: priority, timeout: timeout, resultTTL: resultTTL,
                notBefore: notBefore, retry: retry),
            sequence: sequence, maxRetries: maxRetries, attempts: attempts, status: status, nodeID: nodeID, result: result,
            error: error, created: created, started: started, finished: finished, history: history, events: events)
    }

    // The spec's fields, read and written as the stores' columns are.
    public var method: String { get { spec.method } set { spec.method = newValue } }
    public var params: JSONValue { get { spec.params } set { spec.params = newValue } }
    public var priority: Int64 { get { spec.priority } set { spec.priority = newValue } }
    public var timeout: Double? { get { spec.timeout } set { spec.timeout = newValue } }
    public var resultTTL: Double? { get { spec.resultTTL } set { spec.resultTTL = newValue } }
    public var notBefore: WallInstant? { get { spec.notBefore } set { spec.notBefore = newValue } }
    public var retry: RetryPolicy? { get { spec.retry } set { spec.retry = newValue } }
}

/// A client as the store keeps it.
public struct StoredClient: Sendable, Equatable {
    public var id: String
    /// False once it called `client_disconnect`; `client_connect` connects it again.
    public var connected: Bool

    public init(id: String, connected: Bool) {
        self.id = id
        self.connected = connected
    }
}

/// The durable changes of one loop iteration. A task or client changed several times in the
/// iteration appears once, as it is at the end.
public struct StoreChanges: Sendable {
    /// Tasks inserted or changed; each is written whole.
    public var tasks: [StoredTask] = []
    public var deletedTasks: [String] = []
    public var clients: [StoredClient] = []
    public var deletedClients: [String] = []
    /// The methods paused now, when that changed (nil: unchanged); written whole.
    public var pausedMethods: Set<String>?
    /// Schedules added or changed (their latest tick moved), each written whole; removed ones.
    public var schedules: [Schedule] = []
    public var deletedSchedules: [String] = []
    /// On a shared queue: what to claim, read back and hand back in the same commit.
    public var shared = SharedQueueRequest()

    public init() {}

    public var isEmpty: Bool {
        tasks.isEmpty && deletedTasks.isEmpty && clients.isEmpty && deletedClients.isEmpty && pausedMethods == nil && schedules.isEmpty
            && deletedSchedules.isEmpty && shared.isEmpty
    }
    public var count: Int {
        tasks.count + deletedTasks.count + clients.count + deletedClients.count + (pausedMethods == nil ? 0 : 1) + schedules.count
            + deletedSchedules.count
    }
}

/// What a store holds when the broker starts.
public struct StoreContents: Sendable {
    public var tasks: [StoredTask]
    public var clients: [StoredClient]
    /// Methods an admin paused (`admin_queue`).
    public var pausedMethods: [String]
    /// The schedules added by RPC and declared by config, with their latest ticks.
    public var schedules: [Schedule]

    public init(tasks: [StoredTask] = [], clients: [StoredClient] = [], pausedMethods: [String] = [], schedules: [Schedule] = []) {
        self.tasks = tasks
        self.clients = clients
        self.pausedMethods = pausedMethods
        self.schedules = schedules
    }
}

/// A store that could not be opened, read or written.
public struct StoreError: Error, CustomStringConvertible {
    /// The store (`sqlite:PATH`).
    public var store: String
    /// What failed and why, as SQLite or the system said it.
    public var reason: String

    public init(store: String, reason: String) {
        self.store = store
        self.reason = reason
    }

    public var description: String { "store \(store): \(reason)" }
}

/// Keeps nothing: a restart starts empty (`--store memory`).
public final class MemoryTaskStore: TaskStore {
    public init() {}
    public var description: String { "memory" }
    public var isDurable: Bool { false }
    public func load() throws(StoreError) -> StoreContents { StoreContents() }
    public func write(_ changes: StoreChanges) throws(StoreError) {}
    public func close() {}
}
