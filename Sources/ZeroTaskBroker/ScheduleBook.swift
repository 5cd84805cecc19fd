import ZeroTaskProtocol

/// A named periodic schedule: each tick of `trigger` submits one task of `method`.
public struct Schedule: Sendable, Equatable {
    /// `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`: part of its tasks' ids (`ScheduleTick.taskID`).
    public let name: String
    public var method: String
    public var params: JSONValue
    public var trigger: ScheduleTrigger
    public var missed: MissedTicks
    public var priority: Int64
    /// The tasks' timeout; nil: the method's.
    public var timeout: Double?
    /// Where it was defined: a config file's schedules are the file's to change.
    public var origin: Origin
    /// The latest tick considered (submitted, or skipped as missed), seconds since 1970; when
    /// it was added if none was yet. Kept in the store, so a restarted broker knows which ticks
    /// it missed.
    public var last: Int64
    /// The id of the task its latest submitted tick made; nil before the first.
    public var lastTaskID: String?
    /// Why its latest tick could not be submitted (a full queue, a method no node serves);
    /// nil once a tick went in.
    public var lastError: String?

    public enum Origin: String, Sendable, Codable {
        case config, rpc
    }

    public init(name: String, method: String, params: JSONValue = .array([]), trigger: ScheduleTrigger,
        missed: MissedTicks = .runOnce, priority: Int64 = 0, timeout: Double? = nil, origin: Origin = .rpc, last: Int64)
    {
        self.name = name
        self.method = method
        self.params = params
        self.trigger = trigger
        self.missed = missed
        self.priority = priority
        self.timeout = timeout
        self.origin = origin
        self.last = last
    }

    /// Whether `name` may name a schedule.
    public static func isValidName(_ name: String) -> Bool {
        name.utf8.count <= 64 && Identifier.isValidID(name) && !name.contains(":")
    }
}

/// The broker's schedules and when each ticks next: a state without I/O that the broker asks,
/// at the time `nextWake` gives, which ticks are due.
///
/// Ticks come out in time order from a heap of (next tick, name); entries of a schedule that was
/// removed or replaced are skipped when they surface, so add and remove are O(log n) and a
/// thousand schedules cost the broker one heap look per wake-up, not a scan.
struct ScheduleBook: Sendable {
    private(set) var schedules: [String: Schedule] = [:]
    /// The tick each schedule waits for; the heap may hold stale entries, this is the truth.
    private var nextTick: [String: Int64] = [:]
    private var heap = BinaryHeap<Entry>()

    struct Entry: HeapOrdered {
        let time: Int64
        let name: String
        func precedes(_ other: Entry) -> Bool { time < other.time || (time == other.time && name < other.name) }
    }

    var count: Int { schedules.count }

    /// Adds or replaces `schedule`; its next tick is the first after its `last`.
    mutating func put(_ schedule: Schedule) {
        schedules[schedule.name] = schedule
        arm(schedule.name, after: schedule.last)
    }

    /// - Returns: the schedule removed, nil if there was none by that name.
    @discardableResult
    mutating func remove(_ name: String) -> Schedule? {
        nextTick[name] = nil
        return schedules.removeValue(forKey: name)
    }

    /// When the broker should look again: the earliest next tick, nil when none will come.
    mutating func nextWake() -> Int64? {
        dropStale()
        return heap.first?.time
    }

    /// The tasks due at `now` (seconds since 1970), one per schedule at most, in tick order; each
    /// schedule's `last` moves on to the latest tick that fell, whether it runs or was skipped as
    /// missed (`ScheduleTick.due`). A trigger that never ticks again leaves the heap.
    mutating func due(now: Int64) -> [ScheduleTick] { dueChanges(now: now).ticks }

    /// `due(now:)`, with the names of the schedules whose `last` moved (to store them).
    mutating func dueChanges(now: Int64) -> (ticks: [ScheduleTick], moved: [String]) {
        var out: [ScheduleTick] = []
        var moved: [String] = []
        while true {
            dropStale()
            guard let first = heap.first, first.time <= now else { break }
            heap.popFirst()
            guard var s = schedules[first.name] else { continue }
            let (latest, submit) = ScheduleTick.due(s.trigger, after: s.last, now: now, policy: s.missed)
            if let latest, latest != s.last {
                s.last = latest
                moved.append(s.name)
            }
            schedules[s.name] = s
            if let submit { out.append(ScheduleTick(schedule: s.name, time: submit)) }
            arm(s.name, after: Swift.max(s.last, now))
        }
        return (out, moved)
    }

    /// Records what a tick's submission came to (the schedule's `lastTaskID` or `lastError`).
    mutating func record(_ name: String, taskID: String?, error: String?) {
        if let taskID { schedules[name]?.lastTaskID = taskID }
        schedules[name]?.lastError = error
    }

    /// When `name` ticks next; nil when it never will (or is unknown).
    func nextTick(of name: String) -> Int64? { nextTick[name] }

    private mutating func arm(_ name: String, after time: Int64) {
        guard let trigger = schedules[name]?.trigger, let next = trigger.nextTick(after: time) else {
            nextTick[name] = nil
            return
        }
        nextTick[name] = next
        heap.push(Entry(time: next, name: name))
    }

    /// Pops entries that no longer say when their schedule ticks (removed, replaced, re-armed).
    private mutating func dropStale() {
        while let first = heap.first, nextTick[first.name] != first.time {
            heap.popFirst()
        }
    }
}
