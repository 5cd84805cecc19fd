import Foundation
import Synchronization
import Testing
import ZeroTaskProtocol
@testable import ZeroTaskBroker

/// Periodic schedules in the broker's rules (BrokerState+Schedules), with typed commands and a
/// wall clock and a monotonic clock the test moves together; and across a restart on a real
/// SQLite file.
@Suite struct BrokerStateScheduleTests {
    /// 2026-12-03T04:00:00Z.
    static let t0: Int64 = 1_796_270_400

    /// A broker state whose clocks the test moves.
    struct Broker {
        let wall: Clock
        var state: BrokerState
        var now: MonotonicInstant = 1000

        final class Clock: Sendable {
            let value: Mutex<Double>
            init(_ v: Double) { value = Mutex(v) }
            var seconds: Double { value.withLock { $0 } }
            func advance(_ s: Double) { value.withLock { $0 += s } }
        }

        init(wall start: Int64 = BrokerStateScheduleTests.t0, journaling: Bool = false) {
            let clock = Clock(Double(start))
            wall = clock
            state = BrokerState(wallClock: { WallInstant(seconds: clock.seconds) }, idPrefix: "x.")
            state.journaling = journaling
        }

        /// Moves both clocks on by `seconds`, then runs the loop's tick.
        mutating func advance(_ seconds: Double) {
            wall.advance(seconds)
            now += seconds
            state.tick(now: now)
        }

        mutating func apply(_ c: ScheduleCommand) -> BrokerAnswer {
            state.apply(.schedule(c), route: ReplyRoute(envelope: [Array("admin".utf8), []], id: 1), now: now)
        }

        mutating func add(_ s: Schedule, replace: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
            guard case .reply = apply(.add(s, replace: replace)) else {
                Issue.record("adding \(s.name) was refused: \(apply(.list))", sourceLocation: sourceLocation)
                return
            }
        }

        func refusal(_ answer: BrokerAnswer) -> String? {
            if case .error(let e) = answer { return e.message }
            return nil
        }

        /// The ids of the tasks the schedules submitted, sorted.
        var scheduledTaskIDs: [String] { state.tasks.keys.filter { $0.hasPrefix("schedule:") }.sorted() }

        func entry(_ name: String) -> JSONValue? {
            state.scheduleList.first { $0.name == name }.map { state.scheduleEntry($0) }
        }
    }

    static func every(_ name: String, _ seconds: Int64, missed: MissedTicks = .runOnce, params: JSONValue = [1, 2]) -> Schedule {
        Schedule(name: name, method: "math.add", params: params, trigger: .every(seconds: seconds), missed: missed, last: 0)
    }

    static func stamp(_ t: Int64) -> String { ScheduleTick(schedule: "x", time: t).taskID.replacingOccurrences(of: "schedule:x-", with: "") }

    @Test func everyTickSubmitsOneTaskWithTheTicksID() {
        var b = Broker()
        b.add(Self.every("s", 10, params: ["a": 1, "b": 2]))
        #expect(b.scheduledTaskIDs.isEmpty)
        b.advance(9)
        #expect(b.scheduledTaskIDs.isEmpty)
        b.advance(1)
        #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z"])
        // Looking again within the same tick submits nothing more.
        b.advance(0.5)
        b.state.tick(now: b.now)
        #expect(b.scheduledTaskIDs.count == 1)
        for _ in 0..<3 { b.advance(10) }
        #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z", "schedule:s-20261203T040020Z", "schedule:s-20261203T040030Z", "schedule:s-20261203T040040Z"])
        let t = b.state.tasks["schedule:s-20261203T040040Z"]!
        #expect(t.clientID == "schedule:s" && t.method == "math.add" && t.params == ["a": 1, "b": 2] && t.status == .queued)
        #expect(b.entry("s")?["last_task_id"] == "schedule:s-20261203T040040Z")
        #expect(b.entry("s")?["last_tick"] == "2026-12-03T04:00:40Z")
        #expect(b.entry("s")?["next_tick"] == "2026-12-03T04:00:50Z")
    }

    @Test func aCronScheduleTicksAtLocalTimesOfItsZone() throws {
        var b = Broker()
        // 06:00 in Berlin is 05:00 UTC in winter.
        b.add(Schedule(name: "morning", method: "report.daily", trigger: .cron(try CronExpression("0 6 * * *"), timeZone: "Europe/Berlin"),
            priority: 5, timeout: 30, last: 0))
        #expect(b.entry("morning")?["next_tick"] == "2026-12-03T05:00:00Z")
        b.advance(3599)
        #expect(b.scheduledTaskIDs.isEmpty)
        b.advance(1)
        #expect(b.scheduledTaskIDs == ["schedule:morning-20261203T050000Z"])
        let t = b.state.tasks["schedule:morning-20261203T050000Z"]!
        #expect(t.priority == 5 && t.spec.timeout == 30)
        #expect(b.entry("morning")?["next_tick"] == "2026-12-04T05:00:00Z")
    }

    @Test func theNextTickCapsTheLoopsDeadline() {
        var b = Broker()
        #expect(b.state.nextDeadline == nil)
        b.add(Self.every("s", 60))
        // The broker's poll wakes when the tick falls (60 s of wall time from t0).
        #expect(b.state.nextDeadline == b.now + 60)
        b.advance(60)
        #expect(b.state.nextDeadline == b.now + 60)
        _ = b.apply(.remove(name: "s"))
        #expect(b.state.nextDeadline == nil)
    }

    @Test func removalStopsTheTicks() {
        var b = Broker()
        b.add(Self.every("a", 10))
        b.add(Self.every("b", 10))
        b.advance(10)
        #expect(b.scheduledTaskIDs.count == 2)
        guard case .reply(.document(let removed)) = b.apply(.remove(name: "a")) else { Issue.record("not removed"); return }
        #expect(removed["name"] == "a")
        b.advance(10)
        b.advance(10)
        #expect(b.scheduledTaskIDs.filter { $0.hasPrefix("schedule:a-") }.count == 1)
        #expect(b.scheduledTaskIDs.filter { $0.hasPrefix("schedule:b-") }.count == 3)
        #expect(b.refusal(b.apply(.remove(name: "a")))?.contains("no schedule \"a\"") == true)
    }

    @Test func namesAreOneScheduleEachAndConfigSchedulesAreTheFilesToChange() {
        var b = Broker()
        b.add(Self.every("a", 10))
        #expect(b.refusal(b.apply(.add(Self.every("a", 20), replace: false)))?.contains("exists (pass replace: true") == true)
        b.add(Self.every("a", 20), replace: true)
        #expect(b.entry("a")?["every"] == 20)
        b.state.declareSchedules([Self.every("nightly", 86400)], now: b.now)
        #expect(b.entry("nightly")?["origin"] == "config")
        #expect(b.refusal(b.apply(.remove(name: "nightly")))?.contains("defined in the broker's config file") == true)
        #expect(b.refusal(b.apply(.add(Self.every("nightly", 5), replace: true)))?.contains("defined in the broker's config file") == true)
        // Declared again without it (the file changed): it is gone; RPC schedules stay.
        b.state.declareSchedules([], now: b.now)
        #expect(b.state.scheduleList.map(\.name) == ["a"])
    }

    @Test func aTaskTimeoutPastTheBrokersCapIsRefused() {
        var b = Broker()
        var s = Self.every("slow", 10)
        s.timeout = 30 * 86400
        #expect(b.refusal(b.apply(.add(s, replace: false)))?.contains("exceeds the broker's max_task_timeout") == true)
        #expect(b.state.scheduleList.isEmpty)
    }

    @Test func scheduleClientIDsAreTheBrokers() {
        var b = Broker()
        let answer = b.state.apply(.clientConnect(clientID: "schedule:s"), route: ReplyRoute(envelope: [[1], []], id: 1), now: b.now)
        guard case .error(let e) = answer else { Issue.record("connected as a schedule: \(answer)"); return }
        #expect(e.message.contains("reserved for the broker's schedules"))
    }

    /// A tick that cannot be submitted (here: the queue is full) is recorded and logged, and the
    /// schedule goes on.
    @Test func aTickThatCannotBeSubmittedIsReported() {
        var config = BrokerConfig()
        config.maxQueued = 0
        let clock = Broker.Clock(Double(Self.t0))
        var state = BrokerState(config: config, wallClock: { WallInstant(seconds: clock.seconds) }, idPrefix: "x.")
        _ = state.apply(.schedule(.add(Self.every("s", 10), replace: false)), route: ReplyRoute(envelope: [], id: 1), now: 0)
        clock.advance(10)
        state.tick(now: 10)
        #expect(state.tasks.isEmpty)
        let entry = state.scheduleEntry(state.scheduleList[0])
        #expect(entry["last_error"]?.stringValue?.hasPrefix("tick 2026-12-03T04:00:10Z not submitted: queue full") == true)
        #expect(state.takeEvents().contains { if case .scheduleTickFailed("s", "schedule:s-20261203T040010Z", _) = $0 { true } else { false } })
    }

    /// The id is the fence: a tick whose task exists already (stored before a restart, or
    /// submitted by another broker on the same store) is not submitted again.
    @Test func aTickWhoseTaskExistsIsNotSubmittedAgain() {
        var b = Broker()
        var s = Self.every("s", 10)
        s.last = Self.t0
        let id = "schedule:s-20261203T040010Z"
        b.state.restore(StoreContents(
            tasks: [StoredTask(id: id, clientID: "schedule:s", method: "math.add", params: [1, 2], sequence: 7, status: .finished,
                result: 3, created: WallInstant(seconds: Double(Self.t0 + 10)), finished: WallInstant(seconds: Double(Self.t0 + 11)))],
            schedules: [s]), now: b.now)
        b.advance(10)
        #expect(b.scheduledTaskIDs == [id])
        #expect(b.state.tasks[id]?.status == .finished)
        #expect(b.entry("s")?["last_task_id"] == .string(id))
    }

    /// What a tick changes goes to the store in one commit: the task and the schedule's latest tick.
    @Test func aTicksTaskAndTheSchedulesLatestTickAreOneCommit() {
        var b = Broker(journaling: true)
        b.add(Self.every("s", 10))
        let added = b.state.takeChanges()
        #expect(added.schedules.map(\.name) == ["s"] && added.tasks.isEmpty)
        b.advance(10)
        let ticked = b.state.takeChanges()
        #expect(ticked.tasks.map(\.id) == ["schedule:s-20261203T040010Z"])
        #expect(ticked.schedules.map(\.last) == [Self.t0 + 10])
        #expect(ticked.schedules.first?.lastTaskID == "schedule:s-20261203T040010Z")
        _ = b.apply(.remove(name: "s"))
        #expect(b.state.takeChanges().deletedSchedules == ["s"])
    }

    // MARK: restarts, on a real SQLite file

    final class TempFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zt-sched-\(UUID().uuidString).sqlite").path
        deinit {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }

    /// A broker on `file` at wall time `wall`: what the store kept restored, the config's
    /// schedules declared, as `BrokerService` starts.
    static func start(_ file: TempFile, wall: Int64, config: [Schedule] = []) throws -> (Broker, SQLiteTaskStore) {
        let store = try SQLiteTaskStore(path: file.path, synchronous: .normal)
        var b = Broker(wall: wall, journaling: true)
        b.state.restore(try store.load(), now: b.now)
        b.state.declareSchedules(config, now: b.now)
        b.state.tick(now: b.now)
        try store.write(b.state.takeChanges())
        return (b, store)
    }

    @Test func aTickRunsOnceAcrossARestart() throws {
        let file = TempFile()
        do {
            var (b, store) = try Self.start(file, wall: Self.t0)
            b.add(Self.every("s", 10))
            b.advance(10)
            try store.write(b.state.takeChanges())
            #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z"])
            store.close()
        }
        // Back at once, still within the same tick: nothing more is submitted.
        var (b, store) = try Self.start(file, wall: Self.t0 + 10)
        #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z"])
        #expect(b.entry("s")?["last_task_id"] == "schedule:s-20261203T040010Z")
        b.advance(10)
        try store.write(b.state.takeChanges())
        #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z", "schedule:s-20261203T040020Z"])
        store.close()
    }

    @Test func ticksMissedWhileDownRunOnceOrAreSkippedByPolicy() throws {
        let file = TempFile()
        do {
            var (b, store) = try Self.start(file, wall: Self.t0)
            b.add(Self.every("once", 60, missed: .runOnce))
            b.add(Self.every("skip", 60, missed: .skip))
            try store.write(b.state.takeChanges())
            store.close()
        }
        // Down for an hour; back 45 s after the latest tick (04:59:00), later than on time.
        var (b, store) = try Self.start(file, wall: Self.t0 + 3585)
        #expect(b.scheduledTaskIDs == ["schedule:once-20261203T045900Z"])
        #expect(b.entry("skip")?["last_tick"] == "2026-12-03T04:59:00Z" && b.entry("skip")?["last_task_id"] == .null)
        // Both carry on at the next tick.
        b.advance(15)
        try store.write(b.state.takeChanges())
        #expect(b.scheduledTaskIDs == ["schedule:once-20261203T045900Z", "schedule:once-20261203T050000Z", "schedule:skip-20261203T050000Z"])
        store.close()
    }

    @Test func configSchedulesKeepTheirLatestTickAcrossRestarts() throws {
        let file = TempFile()
        let nightly = Self.every("nightly", 60)
        do {
            var (b, store) = try Self.start(file, wall: Self.t0, config: [nightly])
            b.advance(60)
            try store.write(b.state.takeChanges())
            #expect(b.scheduledTaskIDs == ["schedule:nightly-20261203T040100Z"])
            store.close()
        }
        do {
            // Ten minutes later: the missed ticks run once, from the tick stored for it.
            let (b, store) = try Self.start(file, wall: Self.t0 + 660 + 30, config: [nightly])
            #expect(b.scheduledTaskIDs == ["schedule:nightly-20261203T040100Z", "schedule:nightly-20261203T041100Z"])
            store.close()
        }
        // Gone from the file: gone from the store too.
        let (b, store) = try Self.start(file, wall: Self.t0 + 700)
        #expect(b.state.scheduleList.isEmpty)
        store.close()
        let reopened = try SQLiteTaskStore(path: file.path)
        #expect(try reopened.load().schedules.isEmpty)
        reopened.close()
    }

    @Test func everyFieldOfAScheduleSurvivesTheStore() throws {
        let file = TempFile()
        let store = try SQLiteTaskStore(path: file.path)
        var s = Schedule(name: "berlin.v2", method: "report.make", params: ["k": [1, "é"]],
            trigger: .cron(try CronExpression("*/5 9-17 * * mon-fri"), timeZone: "Europe/Berlin"), missed: .skip, priority: -2,
            timeout: 12.5, origin: .config, last: Self.t0)
        s.lastTaskID = "schedule:berlin.v2-20261203T040000Z"
        s.lastError = "tick 2026-12-03T04:05:00Z not submitted: queue full"
        var c = StoreChanges()
        c.schedules = [s, Self.every("gone", 5)]
        try store.write(c)
        c = StoreChanges()
        c.deletedSchedules = ["gone"]
        try store.write(c)
        store.close()
        let reopened = try SQLiteTaskStore(path: file.path)
        #expect(try reopened.load().schedules == [s])
        reopened.close()
    }
}
