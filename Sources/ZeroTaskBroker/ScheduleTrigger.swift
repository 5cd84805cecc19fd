import Foundation

/// When a periodic schedule ticks: a cron expression read in a time zone, or every N seconds.
///
/// Ticks are whole seconds since 1970 (UTC) and depend only on the trigger, never on when the
/// broker looked: every broker, before and after a restart, computes the same ticks, so a tick's
/// task id (`ScheduleTick.taskID`) is the same wherever it is submitted, and submitting it twice
/// is refused as a duplicate id.
public enum ScheduleTrigger: Sendable, Hashable, CustomStringConvertible {
    /// Local wall-clock times of `expression` in the IANA time zone `timeZone` ("UTC",
    /// "Europe/Berlin"). A local time skipped by a daylight-saving change ticks at the change;
    /// a local time that happens twice ticks once, at its first occurrence.
    case cron(CronExpression, timeZone: String)
    /// Multiples of `seconds` since 1970-01-01 00:00 UTC.
    case every(seconds: Int64)

    /// Reads `every` ("30", "30s", "5m", "2h", "1d") or a cron expression with its zone.
    public init(cron: String?, timeZone: String?, every: String?) throws(CronError) {
        switch (cron, every) {
        case (let cron?, nil):
            let zone = timeZone ?? "UTC"
            guard TimeZone(identifier: zone) != nil else {
                throw CronError("time zone \"\(zone)\" is not known (an IANA name such as UTC or Europe/Berlin)")
            }
            self = .cron(try CronExpression(cron), timeZone: zone)
        case (nil, let every?):
            guard timeZone == nil else { throw CronError("time_zone applies to cron schedules, not to every") }
            self = .every(seconds: try Self.seconds(every))
        case (nil, nil): throw CronError("a schedule needs cron or every")
        case (_?, _?): throw CronError("a schedule takes cron or every, not both")
        }
    }

    /// Seconds in "90", "90s", "15m", "2h" or "1d" (at least 1, at most a year).
    static func seconds(_ text: String) throws(CronError) -> Int64 {
        let t = text.trimmingSpaces.lowercased()
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(t), unit: Int64 = 1
        if let last = t.last, let u = units[last] { number = t.dropLast(); unit = u }
        guard let n = Int64(number), n > 0, n <= 366 * 86400 / unit else {
            throw CronError("every \"\(text)\": a positive number of seconds, optionally with s, m, h or d (\"30s\", \"5m\"), at most a year")
        }
        return n * unit
    }

    /// The first tick strictly after `time` (seconds since 1970), or nil when there is none
    /// within eight years.
    public func nextTick(after time: Int64) -> Int64? {
        switch self {
        case .every(let seconds):
            return (time.floorDivided(by: seconds).0 + 1) * seconds
        case .cron(let expression, let zoneName):
            guard let zone = TimeZone(identifier: zoneName) else { return nil }
            let local = LocalTime(zone)
            var minute = local.minute(at: time)
            // Each candidate is a later local minute; the loop ends because those grow.
            while let next = expression.nextLocalMinute(after: minute) {
                if let instant = local.firstInstant(ofMinute: next), instant > time { return instant }
                // The first occurrence of a repeated local time is already past: this tick ran.
                minute = next
            }
            return nil
        }
    }

    /// The last tick at or before `time`, or nil when there is none within eight years.
    public func previousTick(atOrBefore time: Int64) -> Int64? {
        switch self {
        case .every(let seconds):
            return time.floorDivided(by: seconds).0 * seconds
        case .cron(let expression, let zoneName):
            guard let zone = TimeZone(identifier: zoneName) else { return nil }
            let local = LocalTime(zone)
            var minute = local.minute(at: time) + 1
            while let previous = expression.previousLocalMinute(before: minute) {
                if let instant = local.firstInstant(ofMinute: previous), instant <= time { return instant }
                minute = previous
            }
            return nil
        }
    }

    public var description: String {
        switch self {
        case let .cron(e, zone): "cron \"\(e)\" in \(zone)"
        case let .every(s): "every \(s) s"
        }
    }
}

/// What to do with ticks that fell while no broker ran (or while a schedule was paused).
public enum MissedTicks: String, Sendable, Codable, CaseIterable {
    /// Submit one task for the latest missed tick, then go on as usual.
    case runOnce = "run_once"
    /// Submit none; the next tick after now is the next to run.
    case skip
}

/// One tick of a schedule: the task it submits has a deterministic id.
public struct ScheduleTick: Sendable, Equatable {
    public let schedule: String
    /// Seconds since 1970 (UTC).
    public let time: Int64

    public init(schedule: String, time: Int64) {
        self.schedule = schedule
        self.time = time
    }

    /// The id of the client that schedule `name`'s tasks belong to.
    public static func clientID(schedule name: String) -> String { "schedule:\(name)" }

    /// `schedule:NAME-YYYYMMDDTHHMMSSZ`: the same for this tick on every broker and after
    /// every restart.
    public var taskID: String { "\(Self.clientID(schedule: schedule))-\(Self.stamp(time))" }

    /// `YYYYMMDDTHHMMSSZ` of a time in UTC.
    static func stamp(_ time: Int64) -> String {
        let (days, second) = time.floorDivided(by: 86400)
        let date = CivilDate(daysSince1970: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let s = Int(second)
        return "\(date.year)\(two(date.month))\(two(date.day))T\(two(s / 3600))\(two(s / 60 % 60))\(two(s % 60))Z"
    }

    /// What a schedule whose last considered tick was `last` does at `now`: `latest` is the
    /// latest tick in `last<..now` (nil: none fell, nothing to do), and `submit` the tick to
    /// submit a task for. A tick at most `grace` seconds old is on time and runs whatever the
    /// policy (a broker's loop wakes a little after a tick, later when a commit is slow); older ones were missed (the broker
    /// was down, or busy), and `policy` says whether the latest of them runs. Ticks before
    /// `latest` never run: at most one task per look, however long the gap.
    public static func due(_ trigger: ScheduleTrigger, after last: Int64, now: Int64, policy: MissedTicks, grace: Int64 = 10)
        -> (latest: Int64?, submit: Int64?)
    {
        guard let first = trigger.nextTick(after: last), first <= now,
            let latest = Self.latest(trigger, from: first, through: now)
        else { return (nil, nil) }
        if now - latest <= grace || policy == .runOnce { return (latest, latest) }
        return (latest, nil)
    }

    /// The latest tick in `first...end`, where `first` is a tick.
    private static func latest(_ trigger: ScheduleTrigger, from first: Int64, through end: Int64) -> Int64? {
        trigger.previousTick(atOrBefore: end).map { Swift.max($0, first) }
    }
}

/// Local wall-clock minutes of one time zone and the instants they name.
struct LocalTime {
    let zone: TimeZone
    init(_ zone: TimeZone) { self.zone = zone }

    func offset(at instant: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }

    /// The local minute (minutes since 1970-01-01 00:00 local) that `instant` falls in.
    func minute(at instant: Int64) -> Int64 {
        (instant + offset(at: instant)).floorDivided(by: 60).0
    }

    /// The earliest instant whose local time is `minute`:00; for a local time skipped by a
    /// forward change, the instant of the change (the first local time after it).
    func firstInstant(ofMinute minute: Int64) -> Int64? {
        let local = minute * 60
        // The offsets in force around that local time (offsets lie within ±18 h).
        let offsets = Set([offset(at: local - 86400), offset(at: local), offset(at: local + 86400)])
        let valid = offsets.map { local - $0 }.filter { offset(at: $0) == local - $0 }
        if let first = valid.min() { return first }
        // A gap: the first instant whose local time is at or after `local`.
        guard var low = offsets.map({ local - $0 }).min(), var high = offsets.map({ local - $0 }).max() else { return nil }
        while low < high {
            let mid = low + (high - low) / 2
            if mid + offset(at: mid) >= local { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
