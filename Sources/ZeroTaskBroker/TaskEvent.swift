import ZeroTaskProtocol

/// One thing that happened to a task that its record's own fields do not keep: an earlier
/// attempt's start (the record keeps the latest), the attempt being requeued, an admin's retry
/// (with the failures it clears from the record), and samples of its progress.
///
/// Samples start with an attempt's second progress report: the first (the worker the node
/// chose) comes with every task, and recording it cost 6 µs of broker CPU a task at 200 in
/// flight (BENCHMARKS.md, "Session 9"). With the fields (created, not_before, the
/// failed attempts, started, finished) they make the task's recorded timeline (`admin_task`).
///
/// Only what the fields lose is recorded, so a task that runs once without progress records
/// nothing: the hot path does no work for the timeline. The events are kept with the task (in
/// memory and in the stores' task row, written with the task's own change: no extra statement
/// or commit) and go when the task goes.
public struct TaskEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// An attempt started on a node (recorded when the record is about to forget it).
        case started
        /// The node reported progress (from an attempt's second report on, at most one a second).
        case progress
        /// Its node was lost, or its worker crashed, or the node no longer held it: queued again.
        case requeued
        /// An attempt failed (kept here when an admin's retry clears the record's error and history).
        case failed
        /// An admin queued the failed or cancelled task again.
        case retriedByAdmin = "retried by an admin"
    }

    public var kind: Kind
    /// Wall-clock time, seconds since 1970.
    public var at: WallInstant
    /// The attempt it belongs to (the task's `attempts` then, from 1).
    public var attempt: Int
    public var nodeID: String?
    /// Why (a requeue's cause, the failure an admin retried).
    public var detail: String?
    public var progress: JSONObject?

    public init(_ kind: Kind, at: WallInstant, attempt: Int, nodeID: String? = nil, detail: String? = nil, progress: JSONObject? = nil) {
        self.kind = kind
        self.at = at
        self.attempt = attempt
        self.nodeID = nodeID
        self.detail = detail
        self.progress = progress
    }

    /// At most this many per task: past it, a progress sample replaces the latest one and other
    /// events replace the oldest progress sample (or the oldest event when none is left).
    public static let maxPerTask = 64
    /// Progress samples of one attempt are at least this far apart (seconds).
    public static let progressInterval = 1.0

    /// `{"at", "event", "attempt", "node_id"?, "detail"?, "progress"?}`: the stores' form, and
    /// an entry of `admin_task`'s timeline.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("at", .double(at.seconds))
        o.append("event", .string(kind.rawValue))
        o.append("attempt", .int(Int64(attempt)))
        if let nodeID { o.append("node_id", .string(nodeID)) }
        if let detail { o.append("detail", .string(detail)) }
        if let progress { o.append("progress", .object(progress)) }
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard let name = json["event"]?.stringValue, let kind = Kind(rawValue: name), let at = json["at"]?.doubleValue,
            let attempt = json["attempt"]?.int64Value
        else { return nil }
        self.init(kind, at: WallInstant(seconds: at), attempt: Int(attempt), nodeID: json["node_id"]?.stringValue, detail: json["detail"]?.stringValue,
            progress: json["progress"]?.objectValue)
    }
}

extension TaskEvent: JSONListItem {}

extension [TaskEvent] {
    /// Adds `event` within `TaskEvent.maxPerTask`.
    mutating func record(_ event: TaskEvent) {
        guard count >= TaskEvent.maxPerTask else {
            append(event)
            return
        }
        if event.kind == .progress, let last = lastIndex(where: { $0.kind == .progress }) {
            self[last] = event
        } else {
            remove(at: firstIndex { $0.kind == .progress } ?? 0)
            append(event)
        }
    }

    /// Whether a progress report now (wall `at`) for `attempt` is a new sample: a second or more
    /// after the attempt's latest sample, or after its start (`since`) when it has none.
    func wantsProgress(at: WallInstant, attempt: Int, since start: WallInstant?) -> Bool {
        let last = last(where: { $0.kind == .progress && $0.attempt == attempt })?.at ?? start
        guard let last else { return true }
        return at - last >= TaskEvent.progressInterval
    }
}

extension TaskRecord {
    /// Records the current attempt's start (on `node`) before the record forgets it: the next
    /// start overwrites `started`.
    mutating func recordStart(of node: String?) {
        guard let started else { return }
        events.record(TaskEvent(.started, at: started, attempt: attempts, nodeID: node))
    }
}
