import ZeroTaskProtocol

/// Everything the broker knows about one task.
///
/// A value type with copy-on-write storage: the fields live in one heap object and the record
/// itself is a single reference. The broker keeps its tasks in a `Dictionary`, which reserves
/// up to twice as many buckets as entries; with the 288-byte fields inline, 1,000,000 queued
/// tasks took 608 MiB of buckets (2^21 × (16 + 288) bytes) and the table's growth peaked above
/// 1 GiB. Boxed, a bucket is 24 bytes and each task one allocation of its actual size
/// (BENCHMARKS.md, "Scale"). Reading a record also retains one object instead of every string
/// and value in it.
struct TaskRecord: Sendable {
    struct Fields: Sendable {
        let id: String
        let clientID: String
        /// Its params are dropped (null) once the task has finished: nothing needs them then (a
        /// failed or cancelled task keeps them, for an admin's retry).
        var spec: TaskSpec
        /// What the params took when submitted (`approximateByteCount`), for `max_queued_bytes`.
        let paramsBytes: Int
        var status: TaskStatus
        /// Submission order; FIFO within a priority.
        let sequence: UInt64
        let maxRetries: Int
        /// How many times the task was handed to a node.
        var attempts: Int
        var nodeID: String?
        /// Nodes that held the task and lost it before it completed (dropped, or its worker
        /// crashed): besides `nodeID`, the only nodes whose report for it is heard.
        var lostBy: [String] = []
        /// The latest progress a node reported (`task_status` named fields).
        var progress: JSONObject?
        var result: JSONValue?
        var error: RPCError?
        /// What `result` or `error` takes, for `max_result_bytes`.
        var resultBytes = 0
        /// Wall-clock times (seconds since 1970), for inspection.
        let created: WallInstant
        var started: WallInstant?
        var finished: WallInstant?
        /// Monotonic time of completion, for result expiry.
        var completedAt: MonotonicInstant?
        /// The runs that failed with an application error and were retried (and the last one,
        /// once retries were exhausted), oldest first.
        var history: [FailedAttempt] = []
        /// What happened to it that the fields above do not keep (`TaskEvent`): empty, and no
        /// allocation, for a task that ran once without progress.
        var events: [TaskEvent] = []
        /// Monotonic time at which a delayed task leaves the broker's delayed heap for its
        /// method's queue; nil while it is not held back (in a queue, or not queued at all).
        var waitingUntil: MonotonicInstant?
        /// A workflow record's workflow, kept decoded: when set, it is the record's params (they
        /// are encoded from it when read), so a child's completion neither decodes nor encodes
        /// the whole workflow; the store's write encodes it once per commit. Behind a reference,
        /// so that every other task's fields grow by one word, not by a workflow.
        var workflow: Decoded<Workflow>?
        /// On a shared PostgreSQL queue, the attempt of the claim this broker holds (the fence
        /// its reports name); nil while it holds none: the task is another broker's, or queued
        /// in the database for any broker to claim (`BrokerState+Shared`).
        var claim: Int?
        /// Whether the database holds the task claimed by this broker at `claim` already (the
        /// claim's own UPDATE, or the first write of a claim made on insert): its later open
        /// states (assigned here, running on a node) are not written again; its outcome is.
        var claimStored = false
        /// A `client_call`'s task the store has not been given yet: nobody can name it before
        /// its reply, so its first write is its outcome, unless it is still open when
        /// `call_store_delay` has passed (`BrokerState.unstoredCalls`).
        var unstored = false
    }

    /// An immutable value behind one reference.
    final class Decoded<Value: Sendable>: Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    /// Mutated only while uniquely referenced (copy on write), like an array's buffer.
    private final class Box: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    init(
        id: String, clientID: String, spec: TaskSpec, status: TaskStatus = .queued, sequence: UInt64, maxRetries: Int,
        attempts: Int = 0, nodeID: String? = nil, progress: JSONObject? = nil, result: JSONValue? = nil,
        error: RPCError? = nil, created: WallInstant, started: WallInstant? = nil, finished: WallInstant? = nil,
        completedAt: MonotonicInstant? = nil, history: [FailedAttempt] = []
    ) {
        box = Box(Fields(
            id: id, clientID: clientID, spec: spec, paramsBytes: spec.params.approximateByteCount, status: status,
            sequence: sequence, maxRetries: maxRetries, attempts: attempts,
            nodeID: nodeID, progress: progress, result: result, error: error, created: created, started: started,
            finished: finished, completedAt: completedAt, history: history))
    }

    /// The fields for writing: copied first when another record shares them.
    private var writable: Fields {
        get { box.fields }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
            yield &box.fields
        }
    }

    var id: String { box.fields.id }
    var clientID: String { box.fields.clientID }
    /// The task's own fields as submitted; for a workflow record its `params` may be stale
    /// (the decoded workflow is current): read `params`, or `storedSpec` for the store.
    var spec: TaskSpec { box.fields.spec }
    /// `spec` with current params: what the store writes (a workflow encoded here, once per commit).
    var storedSpec: TaskSpec {
        guard let workflow = box.fields.workflow else { return box.fields.spec }
        var spec = box.fields.spec
        spec.params = workflow.value.json
        return spec
    }
    var method: String { box.fields.spec.method }
    var params: JSONValue {
        get { box.fields.workflow?.value.json ?? box.fields.spec.params }
        set {
            writable.spec.params = newValue
            writable.workflow = nil
        }
    }
    /// The workflow a workflow record holds (nil for any other task): the decoded one it keeps,
    /// or decoded from its params (a record read back from the store).
    var workflow: Workflow? {
        get {
            guard keepsParams else { return nil }
            return box.fields.workflow?.value ?? Workflow(json: box.fields.spec.params)
        }
        set { writable.workflow = newValue.map(Decoded.init) }
    }
    var paramsBytes: Int { box.fields.paramsBytes }
    var resultBytes: Int {
        get { box.fields.resultBytes }
        set { writable.resultBytes = newValue }
    }
    var priority: Int64 { box.fields.spec.priority }
    var sequence: UInt64 { box.fields.sequence }
    var timeout: Double? { box.fields.spec.timeout }
    var maxRetries: Int { box.fields.maxRetries }
    var resultTTL: Double? { box.fields.spec.resultTTL }
    var tags: [String] { box.fields.spec.tags }
    var created: WallInstant { box.fields.created }
    var status: TaskStatus {
        get { box.fields.status }
        set { writable.status = newValue }
    }
    var attempts: Int {
        get { box.fields.attempts }
        set { writable.attempts = newValue }
    }
    var nodeID: String? {
        get { box.fields.nodeID }
        set { writable.nodeID = newValue }
    }
    var lostBy: [String] {
        get { box.fields.lostBy }
        set { writable.lostBy = newValue }
    }
    var progress: JSONObject? {
        get { box.fields.progress }
        set { writable.progress = newValue }
    }
    var result: JSONValue? {
        get { box.fields.result }
        set { writable.result = newValue }
    }
    var error: RPCError? {
        get { box.fields.error }
        set { writable.error = newValue }
    }
    var started: WallInstant? {
        get { box.fields.started }
        set { writable.started = newValue }
    }
    var finished: WallInstant? {
        get { box.fields.finished }
        set { writable.finished = newValue }
    }
    var completedAt: MonotonicInstant? {
        get { box.fields.completedAt }
        set { writable.completedAt = newValue }
    }
    var notBefore: WallInstant? {
        get { box.fields.spec.notBefore }
        set { writable.spec.notBefore = newValue }
    }
    var history: [FailedAttempt] {
        get { box.fields.history }
        set { writable.history = newValue }
    }
    var events: [TaskEvent] {
        get { box.fields.events }
        set { writable.events = newValue }
    }
    var waitingUntil: MonotonicInstant? {
        get { box.fields.waitingUntil }
        set { writable.waitingUntil = newValue }
    }
    /// Setting it (a new claim, or none) forgets `claimStored`.
    var claim: Int? {
        get { box.fields.claim }
        set {
            writable.claim = newValue
            writable.claimStored = false
        }
    }
    var claimStored: Bool {
        get { box.fields.claimStored }
        set { writable.claimStored = newValue }
    }
    var unstored: Bool {
        get { box.fields.unstored }
        set { writable.unstored = newValue }
    }

    /// Whether `spec` submitted by `clientID` is this task sent again: same client, method and
    /// params. A finished task no longer keeps its params, so nothing can be compared: never.
    func isResubmission(of spec: TaskSpec, by clientID: String) -> Bool {
        guard self.clientID == clientID, method == spec.method, !(status == .finished && params == .null) else { return false }
        return params == spec.params
    }

    /// Whether it keeps its params once finished: a workflow's hold what it ran (`Workflow`).
    var keepsParams: Bool { method == Workflow.method }

    /// The assignment a node receives (its JSON is written when it is sent: `TaskAssignment.json`).
    var assignment: TaskAssignment { TaskAssignment(id: id, method: method, params: params, timeout: timeout) }

    /// What `client_task_info` shows, as the client names the task.
    func info(_ tenancy: Tenancy) -> JSONValue {
        var o = JSONObject()
        o.append("task_id", .string(tenancy.outside(id)))
        o.append("method", .string(method))
        o.append("status", .int(status.rawValue))
        o.append("state", .string(status.description))
        o.append("priority", .int(priority))
        o.append("attempts", .int(Int64(attempts)))
        o.append("node_id", nodeID.map { .string($0) } ?? .null)
        if let progress { o.append("progress", .object(progress)) }
        o.append("created", .double(created.seconds))
        if let started { o.append("started", .double(started.seconds)) }
        if let finished { o.append("finished", .double(finished.seconds)) }
        if let timeout { o.append("timeout", .double(timeout)) }
        if let resultTTL { o.append("result_ttl", .double(resultTTL)) }
        if let notBefore = spec.notBefore { o.append("not_before", .double(notBefore.seconds)) }
        // Held back until not_before (a delay, or a retry's back-off): queued, but in no queue yet.
        if waitingUntil != nil { o.append("delayed", true) }
        if let retry = spec.retry { o.append("retry", retry.json) }
        if !tags.isEmpty { o.append("tags", .array(tags.map { .string($0) })) }
        if let error { o.append("error", error.json) }
        if let workflow { o.append("workflow", workflow.summary(tenancy)) }
        if !history.isEmpty { o.append("history", .array(history.map(\.json))) }
        return .object(o)
    }
}

/// The queued tasks of one method: binary heaps, highest priority first, FIFO within a priority.
///
/// Tasks that require tags (`TaskSpec.tags`) wait in a lane of their own per set of tags, so a
/// task no connected node can take never blocks the method's other tasks: a pull looks only at
/// the lanes whose tags the node has (lane 0, the tasks that require none, always).
///
/// Removal is lazy: a task cancelled or claimed by id stays in its heap and is skipped when it
/// reaches the top, so every operation is O(log n) however long the queue grows.
struct TaskQueue: Sendable {
    struct Entry: HeapOrdered {
        var priority: Int64
        var sequence: UInt64
        var taskID: String

        /// True when `self` should run before `other`.
        @inline(__always) func precedes(_ other: Entry) -> Bool {
            priority != other.priority ? priority > other.priority : sequence < other.sequence
        }
    }

    /// The tasks that require one set of tags.
    struct Lane: Sendable {
        /// Sorted, as in `TaskSpec.tags`; empty for lane 0.
        let tags: [String]
        var entries = BinaryHeap<Entry>()

        /// Whether a node with `nodeTags` may take this lane's tasks.
        @inline(__always) func admits(_ nodeTags: Set<String>) -> Bool {
            tags.isEmpty || tags.allSatisfy(nodeTags.contains)
        }
    }

    /// Lane 0 holds the tasks that require no tags; a lane, once made, stays while the queue does
    /// (a pull holds lane indices).
    private(set) var lanes = [Lane(tags: [])]
    /// Every entry, live or stale, lane by lane, each in heap order.
    var heap: [Entry] { lanes.count == 1 ? lanes[0].entries.elements : lanes.flatMap(\.entries.elements) }
    /// Tasks really waiting (the heaps may also hold stale entries).
    var liveCount = 0

    var isEmpty: Bool { liveCount == 0 }

    mutating func push(_ e: Entry, tags: [String] = []) {
        if tags.isEmpty {
            lanes[0].entries.push(e)
        } else if let i = lanes.firstIndex(where: { $0.tags == tags }) {
            lanes[i].entries.push(e)
        } else {
            var lane = Lane(tags: tags)
            lane.entries.push(e)
            lanes.append(lane)
        }
        liveCount += 1
    }

    /// Lanes with live tasks may be among them; nil when nothing is queued.
    var laneCount: Int? { liveCount > 0 ? lanes.count : nil }

    /// Whether a node with `nodeTags` may take the tasks of lane `i`.
    @inline(__always) func lane(_ i: Int, admits nodeTags: Set<String>) -> Bool { lanes[i].admits(nodeTags) }

    /// The best entry of a lane, without removing it (it may be stale: the caller checks).
    @inline(__always) func top(lane: Int) -> Entry? { lanes[lane].entries.first }

    mutating func popTop(lane: Int) { lanes[lane].entries.popFirst() }

    /// The best entry of every lane, without removing it (it may be stale).
    var top: Entry? {
        lanes.indices.compactMap { top(lane: $0) }.min { $0.precedes($1) }
    }

    mutating func popTop() {
        guard let best = top, let i = lanes.firstIndex(where: { $0.entries.first?.taskID == best.taskID }) else { return }
        popTop(lane: i)
    }

    /// Drops stale entries once they outnumber live ones, so memory follows the live count.
    mutating func compactIfNeeded(isLive: (String) -> Bool) {
        let count = lanes.count == 1 ? lanes[0].entries.count : lanes.reduce(0) { $0 + $1.entries.count }
        guard count > 1024, count > 2 * liveCount else { return }
        for i in lanes.indices { lanes[i].entries = BinaryHeap(lanes[i].entries.elements.filter { isLive($0.taskID) }) }
    }
}
