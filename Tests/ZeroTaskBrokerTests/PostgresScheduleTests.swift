import Foundation
import Testing
@testable import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Schedules in the PostgreSQL store (`zerotask_schedules`), on a throwaway cluster: the same
/// rows as SQLite's, and a tick not run twice after a restart.
@Suite(.serialized) struct PostgresScheduleTests {
    @Test func schedulesLoadBackAndATickRunsOnceAcrossARestart() throws {
        let pg = try PostgresServer.shared.get()
        let url = try pg.createDatabase()
        let t0 = BrokerStateScheduleTests.t0
        var cron = Schedule(name: "berlin", method: "report.make", params: ["k": 1],
            trigger: .cron(try CronExpression("0 6 * * *"), timeZone: "Europe/Berlin"), missed: .skip, priority: 2, timeout: 5,
            origin: .config, last: t0)
        cron.lastError = "tick 2026-12-03T05:00:00Z not submitted: queue full"
        do {
            let store = try PostgresTaskStore(url: url)
            defer { store.close() }
            var b = BrokerStateScheduleTests.Broker(wall: t0, journaling: true)
            b.add(BrokerStateScheduleTests.every("s", 10))
            b.advance(10)
            var changes = b.state.takeChanges()
            #expect(changes.tasks.map(\.id) == ["schedule:s-20261203T040010Z"])
            changes.schedules.append(cron)
            try store.write(changes)
            var gone = StoreChanges()
            gone.schedules = [BrokerStateScheduleTests.every("gone", 5)]
            try store.write(gone)
            gone = StoreChanges()
            gone.deletedSchedules = ["gone"]
            try store.write(gone)
        }
        let store = try PostgresTaskStore(url: url)
        defer { store.close() }
        let loaded = try store.load()
        #expect(loaded.schedules.map(\.name) == ["berlin", "s"])
        #expect(loaded.schedules.first == cron)
        #expect(loaded.schedules.last?.last == t0 + 10 && loaded.schedules.last?.lastTaskID == "schedule:s-20261203T040010Z")
        // Started again within the same tick: nothing is submitted twice.
        var b = BrokerStateScheduleTests.Broker(wall: t0 + 10, journaling: true)
        b.state.restore(loaded, now: b.now)
        b.state.tick(now: b.now)
        #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z"])
        b.advance(10)
        #expect(b.scheduledTaskIDs == ["schedule:s-20261203T040010Z", "schedule:s-20261203T040020Z"])
    }
}
