import Foundation
import Testing
@testable import ZeroTaskBroker

/// Cron expressions and schedule ticks, checked against times read by Foundation's own ISO 8601
/// parser (not the broker's calendar arithmetic).
@Suite struct ScheduleTriggerTests {
    /// Seconds since 1970 of an ISO 8601 time with its offset ("2026-12-02T10:00:00Z").
    func at(_ text: String) -> Int64 {
        let f = ISO8601DateFormatter()
        guard let date = f.date(from: text) else { Issue.record("bad time \(text)"); return 0 }
        return Int64(date.timeIntervalSince1970)
    }

    func cron(_ text: String, _ zone: String = "UTC") throws -> ScheduleTrigger {
        try ScheduleTrigger(cron: text, timeZone: zone, every: nil)
    }

    @Test func stepsRangesAndNames() throws {
        #expect(try cron("*/15 * * * *").nextTick(after: at("2026-12-02T10:07:30Z")) == at("2026-12-02T10:15:00Z"))
        // Friday 09:00 is past: the next working day's 09:00 is Monday's.
        #expect(try cron("0 9 * * mon-fri").nextTick(after: at("2026-12-04T09:00:00Z")) == at("2026-12-07T09:00:00Z"))
        #expect(try cron("0 9 * * 1-5").nextTick(after: at("2026-12-04T09:00:00Z")) == at("2026-12-07T09:00:00Z"))
        // 7 is Sunday, like 0 and "sun".
        let sunday = at("2026-12-06T00:00:00Z")
        for text in ["0 0 * * 7", "0 0 * * 0", "0 0 * * SUN"] {
            #expect(try cron(text).nextTick(after: at("2026-12-02T10:00:00Z")) == sunday, "\(text)")
        }
        #expect(try cron("30 4 1,15 jan-mar *").nextTick(after: at("2026-12-02T00:00:00Z")) == at("2027-01-01T04:30:00Z"))
        #expect(try cron("@hourly").nextTick(after: at("2026-12-02T10:00:00Z")) == at("2026-12-02T11:00:00Z"))
        #expect(try cron("@yearly").nextTick(after: at("2026-12-02T10:00:00Z")) == at("2027-01-01T00:00:00Z"))
        // Leap day, years ahead.
        #expect(try cron("0 12 29 2 *").nextTick(after: at("2026-12-02T10:00:00Z")) == at("2028-02-29T12:00:00Z"))
    }

    /// As in Vixie cron: both day fields restricted means either may match.
    @Test func dayOfMonthOrDayOfWeek() throws {
        let wednesday = at("2026-12-02T10:00:00Z")
        #expect(try cron("0 0 13 * fri").nextTick(after: wednesday) == at("2026-12-04T00:00:00Z"))
        #expect(try cron("0 0 13 * *").nextTick(after: wednesday) == at("2026-12-13T00:00:00Z"))
        #expect(try cron("0 0 * * fri").nextTick(after: wednesday) == at("2026-12-04T00:00:00Z"))
    }

    @Test func localTimesInAZoneFollowItsOffsets() throws {
        // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
        #expect(try cron("0 9 * * *", "Europe/Berlin").nextTick(after: at("2026-12-02T10:00:00Z")) == at("2026-12-03T08:00:00Z"))
        #expect(try cron("0 9 * * *", "Europe/Berlin").nextTick(after: at("2027-06-02T10:00:00Z")) == at("2027-06-03T07:00:00Z"))
        #expect(try cron("@daily", "America/New_York").nextTick(after: at("2026-12-02T10:00:00Z")) == at("2026-12-03T05:00:00Z"))
    }

    /// On 2027-03-28 Berlin's clocks jump from 02:00 to 03:00 (01:00 UTC): 02:30 does not exist
    /// that day and ticks at the change.
    @Test func aSkippedLocalTimeTicksAtTheChange() throws {
        let t = try cron("30 2 * * *", "Europe/Berlin")
        #expect(t.nextTick(after: at("2027-03-27T03:00:00Z")) == at("2027-03-28T01:00:00Z"))
        #expect(t.nextTick(after: at("2027-03-28T01:00:00Z")) == at("2027-03-29T00:30:00Z"))
    }

    /// On 2027-10-31 Berlin's clocks go back from 03:00 to 02:00 (01:00 UTC): 02:30 happens
    /// twice and ticks once, the first time.
    @Test func aRepeatedLocalTimeTicksOnce() throws {
        let t = try cron("30 2 * * *", "Europe/Berlin")
        let first = at("2027-10-31T00:30:00Z")
        #expect(t.nextTick(after: at("2027-10-30T12:00:00Z")) == first)
        #expect(t.nextTick(after: first) == at("2027-11-01T01:30:00Z"))
        // Looking from inside the second 02:30 hour does not find it again.
        #expect(t.nextTick(after: at("2027-10-31T01:35:00Z")) == at("2027-11-01T01:30:00Z"))
        #expect(t.previousTick(atOrBefore: at("2027-10-31T01:35:00Z")) == first)
    }

    @Test func previousTicks() throws {
        #expect(try cron("*/15 * * * *").previousTick(atOrBefore: at("2026-12-02T10:07:30Z")) == at("2026-12-02T10:00:00Z"))
        #expect(try cron("*/15 * * * *").previousTick(atOrBefore: at("2026-12-02T10:15:00Z")) == at("2026-12-02T10:15:00Z"))
        #expect(try cron("0 9 * * mon-fri").previousTick(atOrBefore: at("2026-12-07T08:00:00Z")) == at("2026-12-04T09:00:00Z"))
        #expect(try cron("0 12 29 2 *").previousTick(atOrBefore: at("2026-12-02T10:00:00Z")) == at("2024-02-29T12:00:00Z"))
    }

    @Test func anExpressionThatNeverMatchesHasNoTick() throws {
        #expect(try cron("0 0 30 2 *").nextTick(after: at("2026-12-02T10:00:00Z")) == nil)
        #expect(try cron("0 0 31 4 *").previousTick(atOrBefore: at("2026-12-02T10:00:00Z")) == nil)
    }

    @Test func errorsNameTheFieldAndTheValue() {
        func message(_ text: String, zone: String? = "UTC") -> String {
            do {
                _ = try ScheduleTrigger(cron: text, timeZone: zone, every: nil)
                return "parsed"
            } catch { return error.description }
        }
        #expect(message("61 * * * *") == "minute field \"61\": 61 is outside 0-59")
        #expect(message("* 24 * * *") == "hour field \"24\": 24 is outside 0-23")
        #expect(message("* * 0 * *") == "day of month field \"0\": 0 is outside 1-31")
        #expect(message("* * * foo *").hasPrefix("month field \"foo\": \"foo\" is not a number or a name (jan, feb"))
        #expect(message("* * * * 1-9") == "day of week field \"1-9\": 9 is outside 0-7")
        #expect(message("*/0 * * * *") == "minute field \"*/0\": the step in \"*/0\" must be a positive number")
        #expect(message("5-2 * * * *") == "minute field \"5-2\": the range \"5-2\" runs backwards")
        #expect(message("1,,2 * * * *") == "minute field \"1,,2\": \"\" is not a value, range or step")
        #expect(message("* * * *").contains("a cron expression has 5 fields"))
        #expect(message("* * * *").contains("found 4"))
        #expect(message("@often").contains("found 1"))
        #expect(message("* * * * *", zone: "Mars/Olympus") == "time zone \"Mars/Olympus\" is not known (an IANA name such as UTC or Europe/Berlin)")
    }

    @Test func everyNSecondsTicksOnMultiplesOfN() throws {
        let five = try ScheduleTrigger(cron: nil, timeZone: nil, every: "5m")
        #expect(five == .every(seconds: 300))
        #expect(five.nextTick(after: at("2026-12-02T10:07:30Z")) == at("2026-12-02T10:10:00Z"))
        #expect(five.nextTick(after: at("2026-12-02T10:10:00Z")) == at("2026-12-02T10:15:00Z"))
        #expect(five.previousTick(atOrBefore: at("2026-12-02T10:07:30Z")) == at("2026-12-02T10:05:00Z"))
        #expect(try ScheduleTrigger(cron: nil, timeZone: nil, every: "90") == .every(seconds: 90))
        #expect(try ScheduleTrigger(cron: nil, timeZone: nil, every: "2h") == .every(seconds: 7200))
        #expect(throws: CronError.self) { try ScheduleTrigger(cron: nil, timeZone: nil, every: "0s") }
        #expect(throws: CronError.self) { try ScheduleTrigger(cron: nil, timeZone: nil, every: "soon") }
        #expect(throws: CronError.self) { try ScheduleTrigger(cron: "* * * * *", timeZone: nil, every: "5m") }
        #expect(throws: CronError.self) { try ScheduleTrigger(cron: nil, timeZone: nil, every: nil) }
    }

    @Test func aTickHasTheSameTaskIDEverywhere() {
        let tick = ScheduleTick(schedule: "nightly", time: at("2026-12-02T10:00:05Z"))
        #expect(tick.taskID == "schedule:nightly-20261202T100005Z")
        #expect(ScheduleTick(schedule: "old", time: at("1969-12-31T23:59:59Z")).taskID == "schedule:old-19691231T235959Z")
    }

    /// A tick just passed runs; ticks missed while no broker ran follow the policy, at most one.
    @Test func missedTicksFollowThePolicy() throws {
        let every10 = try ScheduleTrigger(cron: nil, timeZone: nil, every: "10m")
        let last = at("2026-12-02T10:00:00Z")
        // On time (5 s after the tick): runs under either policy.
        for policy in MissedTicks.allCases {
            let d = ScheduleTick.due(every10, after: last, now: at("2026-12-02T10:10:05Z"), policy: policy)
            #expect(d.latest == at("2026-12-02T10:10:00Z") && d.submit == d.latest, "\(policy)")
        }
        // Five hours down: only the latest missed tick may run.
        let late = at("2026-12-02T15:05:00Z")
        let once = ScheduleTick.due(every10, after: last, now: late, policy: .runOnce)
        #expect(once.latest == at("2026-12-02T15:00:00Z") && once.submit == once.latest)
        let skip = ScheduleTick.due(every10, after: last, now: late, policy: .skip)
        #expect(skip.latest == at("2026-12-02T15:00:00Z") && skip.submit == nil)
        // Nothing fell since the last tick.
        let none = ScheduleTick.due(every10, after: last, now: at("2026-12-02T10:09:59Z"), policy: .runOnce)
        #expect(none.latest == nil && none.submit == nil)
    }

    @Test func civilDatesMatchFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for days in stride(from: Int64(-130_000), through: 800_000, by: 997) {
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: Double(days) * 86400))
            let d = CivilDate(daysSince1970: days)
            #expect(d.year == Int64(c.year!) && d.month == c.month! && d.day == c.day! && d.weekday == c.weekday! - 1, "\(days)")
            #expect(CivilDate.daysSince1970(year: d.year, month: d.month, day: d.day) == days)
        }
    }
}
