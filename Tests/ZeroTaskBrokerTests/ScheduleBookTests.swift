import Testing
import ZeroTaskProtocol
@testable import ZeroTaskBroker

/// The broker's schedules without I/O: which ticks are due when, with a clock the test moves.
@Suite struct ScheduleBookTests {
    /// 2026-12-02T10:00:00Z.
    let t0: Int64 = 1_796_205_600

    func every(_ name: String, _ seconds: Int64, last: Int64, missed: MissedTicks = .runOnce) -> Schedule {
        Schedule(name: name, method: "math.add", params: [1, 2], trigger: .every(seconds: seconds), missed: missed, last: last)
    }

    @Test func eachTickComesOnceInTimeOrder() {
        var book = ScheduleBook()
        book.put(every("a", 60, last: t0))
        book.put(every("b", 90, last: t0))
        #expect(book.nextWake() == t0 + 60)
        #expect(book.due(now: t0 + 59).isEmpty)
        #expect(book.due(now: t0 + 60) == [ScheduleTick(schedule: "a", time: t0 + 60)])
        // Asking again at the same time finds nothing new.
        #expect(book.due(now: t0 + 60).isEmpty)
        #expect(book.nextWake() == t0 + 90)
        #expect(book.due(now: t0 + 121) == [ScheduleTick(schedule: "b", time: t0 + 90), ScheduleTick(schedule: "a", time: t0 + 120)])
        #expect(book.schedules["a"]?.last == t0 + 120)
        #expect(book.nextWake() == t0 + 180)
    }

    @Test func removedAndReplacedSchedulesDoNotTick() {
        var book = ScheduleBook()
        book.put(every("a", 60, last: t0))
        book.put(every("b", 60, last: t0))
        #expect(book.remove("a")?.name == "a")
        #expect(book.remove("a") == nil)
        // Replaced by a slower trigger: the old next tick is gone.
        book.put(every("b", 600, last: t0))
        #expect(book.nextWake() == t0 + 600)
        #expect(book.due(now: t0 + 599).isEmpty)
        #expect(book.due(now: t0 + 600).map(\.schedule) == ["b"])
    }

    /// A restarted broker puts its stored schedules back with their `last`: missed ticks follow
    /// each schedule's policy, at most one task each.
    @Test func aRestartRunsMissedTicksByPolicy() {
        var book = ScheduleBook()
        book.put(every("once", 60, last: t0, missed: .runOnce))
        book.put(every("skip", 60, last: t0, missed: .skip))
        // An hour down; back 45 s after the latest tick: missed, not on time.
        let due = book.due(now: t0 + 3600 + 45)
        #expect(due == [ScheduleTick(schedule: "once", time: t0 + 3600)])
        #expect(book.schedules["skip"]?.last == t0 + 3600)
        #expect(book.due(now: t0 + 3660) == [ScheduleTick(schedule: "once", time: t0 + 3660), ScheduleTick(schedule: "skip", time: t0 + 3660)])
    }

    @Test func aTriggerThatNeverTicksLeavesTheBook() throws {
        var book = ScheduleBook()
        book.put(Schedule(name: "never", method: "m", trigger: .cron(try CronExpression("0 0 30 2 *"), timeZone: "UTC"), last: t0))
        #expect(book.nextWake() == nil)
        #expect(book.due(now: t0 + 10 * 366 * 86400).isEmpty)
    }

    @Test func aThousandSchedulesCostOneLookPerWake() {
        var book = ScheduleBook()
        for i in 0..<1000 { book.put(every("s\(i)", Int64(60 + i), last: t0)) }
        var ticks = 0
        var now = t0
        while let wake = book.nextWake(), wake <= t0 + 3600 {
            now = wake
            ticks += book.due(now: now).count
        }
        // Schedule i ticks on the multiples of 60 + i seconds since 1970 that fall in the hour.
        var expected = 0
        for i in 0..<1000 {
            let period = Int64(60 + i)
            expected += Int((t0 + 3600) / period - t0 / period)
        }
        #expect(ticks == expected)
    }

    @Test func namesAreIDsWithoutColons() {
        #expect(Schedule.isValidName("nightly-report.v2"))
        #expect(!Schedule.isValidName("a:b"))
        #expect(!Schedule.isValidName(""))
        #expect(!Schedule.isValidName(String(repeating: "x", count: 65)))
        #expect(!Schedule.isValidName("-x"))
    }
}
