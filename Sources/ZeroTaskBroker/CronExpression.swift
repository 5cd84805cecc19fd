/// A cron expression: five fields (minute, hour, day of month, month, day of week) as in
/// crontab(5), or one of the macros `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`,
/// `@yearly` (`@annually`).
///
/// Each field takes `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, and comma-separated
/// lists of these; months and weekdays also take English names (`jan`, `mon`); weekday 7 is
/// Sunday like 0. As in Vixie cron, when both day of month and day of week are restricted
/// (neither starts with `*`), a day matching either is a match.
///
/// Parsing is strict: an unknown name, a number out of its field's range or a misplaced `/`
/// is an error naming the field and the text. A value type with no I/O: the times it matches are
/// local times; `CronSchedule` turns them into instants in a time zone.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// Bit i set: value i matches.
    let minutes: UInt64
    let hours: UInt32
    let daysOfMonth: UInt32
    let months: UInt16
    /// Sunday is 0.
    let daysOfWeek: UInt8
    /// Whether day of month and day of week were both restricted (then either may match).
    let eitherDay: Bool
    /// Whether the day-of-week field was `*…` (then only the day of month decides).
    let anyWeekday: Bool
    let anyMonthDay: Bool
    public let description: String

    public init(_ text: String) throws(CronError) {
        let trimmed = text.trimmingSpaces
        var fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if fields.count == 1, let macro = Self.macros[fields[0].lowercased()] {
            fields = macro.split(separator: " ").map(String.init)
        }
        guard fields.count == 5 else {
            throw CronError("\"\(text)\": a cron expression has 5 fields (minute hour day-of-month month day-of-week) or is one of \(Self.macros.keys.sorted().joined(separator: ", ")); found \(fields.count)")
        }
        description = trimmed
        minutes = try Self.field(fields[0], .minute)
        hours = UInt32(try Self.field(fields[1], .hour))
        daysOfMonth = UInt32(try Self.field(fields[2], .dayOfMonth))
        months = UInt16(try Self.field(fields[3], .month))
        var week = try Self.field(fields[4], .dayOfWeek)
        if week & (1 << 7) != 0 { week = (week | 1) & ~(1 << 7) }  // 7 is Sunday too
        daysOfWeek = UInt8(week)
        anyMonthDay = fields[2].hasPrefix("*")
        anyWeekday = fields[4].hasPrefix("*")
        eitherDay = !anyMonthDay && !anyWeekday
    }

    /// Whether the local date `day` (and any time on it) passes the day fields.
    func matchesDay(_ day: CivilDate) -> Bool {
        guard months & (1 << day.month) != 0 else { return false }
        let byMonthDay = daysOfMonth & (1 << day.day) != 0
        let byWeekday = daysOfWeek & (1 << day.weekday) != 0
        if eitherDay { return byMonthDay || byWeekday }
        return byMonthDay && byWeekday
    }

    func matchesHour(_ hour: Int) -> Bool { hours & (1 << hour) != 0 }
    func matchesMinute(_ minute: Int) -> Bool { minutes & (1 << minute) != 0 }

    /// The first local minute after `local` (a count of minutes in local wall-clock time since
    /// 1970-01-01 00:00) that matches, or nil when none does within eight years (an expression
    /// such as `0 0 30 2 *` never matches).
    public func nextLocalMinute(after local: Int64) -> Int64? {
        var minute = local + 1
        let limit = local + 8 * 366 * 1440
        while minute <= limit {
            let (dayNumber, minuteOfDay) = minute.floorDivided(by: 1440)
            let day = CivilDate(daysSince1970: dayNumber)
            guard matchesDay(day) else {
                minute = (dayNumber + 1) * 1440
                continue
            }
            var hour = Int(minuteOfDay / 60), mm = Int(minuteOfDay % 60)
            while hour < 24 {
                if matchesHour(hour) {
                    while mm < 60 {
                        if matchesMinute(mm) { return dayNumber * 1440 + Int64(hour * 60 + mm) }
                        mm += 1
                    }
                }
                hour += 1
                mm = 0
            }
            minute = (dayNumber + 1) * 1440
        }
        return nil
    }

    /// The last local minute before `local` that matches, or nil when none does within
    /// eight years.
    public func previousLocalMinute(before local: Int64) -> Int64? {
        var minute = local - 1
        let limit = local - 8 * 366 * 1440
        while minute >= limit {
            let (dayNumber, minuteOfDay) = minute.floorDivided(by: 1440)
            let day = CivilDate(daysSince1970: dayNumber)
            guard matchesDay(day) else {
                minute = dayNumber * 1440 - 1
                continue
            }
            var hour = Int(minuteOfDay / 60), mm = Int(minuteOfDay % 60)
            while hour >= 0 {
                if matchesHour(hour) {
                    while mm >= 0 {
                        if matchesMinute(mm) { return dayNumber * 1440 + Int64(hour * 60 + mm) }
                        mm -= 1
                    }
                }
                hour -= 1
                mm = 59
            }
            minute = dayNumber * 1440 - 1
        }
        return nil
    }

    // MARK: parsing

    enum Field: String {
        case minute, hour, dayOfMonth = "day of month", month, dayOfWeek = "day of week"
        var range: ClosedRange<Int> {
            switch self {
            case .minute: 0...59
            case .hour: 0...23
            case .dayOfMonth: 1...31
            case .month: 1...12
            case .dayOfWeek: 0...7
            }
        }
        var names: [String] {
            switch self {
            case .month: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            case .dayOfWeek: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
            default: []
            }
        }
        /// The value a name stands for (months from 1, weekdays from 0).
        func value(named name: String) -> Int? {
            names.firstIndex(of: name.lowercased()).map { self == .month ? $0 + 1 : $0 }
        }
    }

    static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    static func field(_ text: String, _ field: Field) throws(CronError) -> UInt64 {
        var bits: UInt64 = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = String(part)
            func fail(_ why: String) -> CronError { CronError("\(field.rawValue) field \"\(text)\": \(why)") }
            let pieces = piece.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw fail("\"\(piece)\" has more than one /") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw fail("the step in \"\(piece)\" must be a positive number") }
                step = s
            }
            let base = String(pieces[0])
            var low: Int, high: Int
            if base == "*" {
                (low, high) = (field.range.lowerBound, field == .dayOfWeek ? 6 : field.range.upperBound)
            } else {
                let ends = base.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                guard ends.count <= 2, let first = ends.first, !first.isEmpty else { throw fail("\"\(piece)\" is not a value, range or step") }
                func value(_ s: String) throws(CronError) -> Int {
                    guard let v = Int(s) ?? field.value(named: s) else {
                        let names = field.names.isEmpty ? "" : " or a name (\(field.names.joined(separator: ", ")))"
                        throw fail("\"\(s)\" is not a number\(names)")
                    }
                    guard field.range.contains(v) else {
                        throw fail("\(v) is outside \(field.range.lowerBound)-\(field.range.upperBound)")
                    }
                    return v
                }
                low = try value(first)
                high = ends.count == 2 ? try value(ends[1]) : (pieces.count == 2 ? field.range.upperBound : low)
                guard low <= high else { throw fail("the range \"\(base)\" runs backwards") }
            }
            for v in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(v) }
        }
        return bits
    }
}

/// Why a cron expression or schedule does not parse; the text names the field and the value.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A date in the proleptic Gregorian calendar, without a time zone.
struct CivilDate: Equatable {
    let year: Int64
    let month: Int
    let day: Int
    /// Sunday is 0.
    let weekday: Int

    /// The date `days` after 1970-01-01 (negative: before), by the days-from-civil arithmetic
    /// of the Gregorian 400-year cycle (146,097 days).
    init(daysSince1970 days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        weekday = Int((days % 7 + 11) % 7)  // 1970-01-01 was a Thursday (4)
    }

    /// Days since 1970-01-01 of `year-month-day`.
    static func daysSince1970(year: Int64, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

extension Int64 {
    /// Quotient and remainder rounded towards minus infinity (the remainder is never negative).
    func floorDivided(by d: Int64) -> (Int64, Int64) {
        let q = self >= 0 ? self / d : (self - d + 1) / d
        return (q, self - q * d)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" { s.removeLast() }
        return String(s)
    }
}
