#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The shared PostgreSQL queue (issue 16) against a real server, each test in a database of its
/// own: claims, the attempt fence, leases and rescue, notifications, and plans.
@Suite(.serialized) struct PostgresQueueTests {
    static func server() throws -> PostgresServer { try PostgresServer.shared.get() }
    static func database(_ url: String) -> String { String(url.split(separator: "/").last!) }

    static func tasks(_ n: Int, prefix: String = "t", method: String = "math.add") -> [PostgresQueue.NewTask] {
        (0..<n).map { PostgresQueue.NewTask(id: "\(prefix)\($0)", clientID: "c1", method: method, params: [.int(Int64($0)), 1]) }
    }

    @Test func enqueueIsIdempotentAndClaimsFollowPriorityThenAge() throws {
        let url = try Self.server().createDatabase()
        let q = try PostgresQueue(url: url, brokerID: "a")
        defer { q.close() }
        #expect(try q.enqueue(Self.tasks(3)) == ["t0", "t1", "t2"])
        var urgent = Self.tasks(1, prefix: "u")[0]
        urgent.priority = 5
        // A resent batch adds only what is new.
        #expect(try q.enqueue(Self.tasks(3) + [urgent]) == ["u0"])
        let claims = try q.claim(methods: ["math.add"], limit: 10)
        #expect(claims.map(\.id) == ["u0", "t0", "t1", "t2"])
        #expect(claims.allSatisfy { $0.attempt == 1 })
        #expect(claims[1].params == [0, 1])
        // A finished task's id is not queued again either.
        #expect(try q.complete([.init(id: "t0", attempt: 1, outcome: .finished(.int(1)))]) == ["t0"])
        #expect(try q.enqueue(Self.tasks(1)).isEmpty)
        #expect(try q.claim(methods: ["math.add"], limit: 10).isEmpty)
        // Other methods are not claimed, and a delayed task waits.
        var later = Self.tasks(1, prefix: "d", method: "slow.op")[0]
        later.delay = 3600
        try q.enqueue(Self.tasks(1, prefix: "o", method: "other.op") + [later])
        #expect(try q.claim(methods: ["math.add", "slow.op"], limit: 10).isEmpty)
        #expect(try q.claim(methods: ["other.op"], limit: 10).map(\.id) == ["o0"])
    }

    @Test func concurrentClaimsFromTwoConnectionsNeverShareATask() throws {
        let url = try Self.server().createDatabase()
        let setup = try PostgresQueue(url: url, brokerID: "setup")
        for batch in 0..<10 { try setup.enqueue(Self.tasks(300, prefix: "b\(batch)-")) }
        setup.close()
        // Each queue is used by one thread only.
        nonisolated(unsafe) let brokers = try ["a", "b"].map { try PostgresQueue(url: url, brokerID: $0) }
        defer { brokers.forEach { $0.close() } }
        nonisolated(unsafe) var claimed: [[String]] = [[], []]
        nonisolated(unsafe) var failures: [String] = []
        let lock = NSLock()
        // Two threads of their own, released together (concurrentPerform may run both
        // iterations on one thread, one after the other, on a busy machine): each claim is a
        // round trip, so while one waits for the server the other claims.
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for i in 0..<2 {
            done.enter()
            Thread {
                defer { done.leave() }
                start.wait()
                do {
                    while true {
                        let batch = try brokers[i].claim(methods: ["math.add"], limit: 10)
                        if batch.isEmpty { break }
                        lock.withLock { claimed[i] += batch.map(\.id) }
                    }
                } catch {
                    lock.withLock { failures.append("\(error)") }
                }
            }.start()
        }
        start.signal()
        start.signal()
        done.wait()
        #expect(failures.isEmpty)
        #expect(claimed[0].count + claimed[1].count == 3000)
        #expect(Set(claimed[0]).isDisjoint(with: claimed[1]))
        #expect(Set(claimed[0] + claimed[1]).count == 3000)
        // Both brokers took part (neither waited for the other's locks).
        #expect(!claimed[0].isEmpty && !claimed[1].isEmpty)
    }

    @Test func aReportFromAnOlderAttemptIsRefusedAndNeverOverwritesANewerOutcome() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let a = try PostgresQueue(url: url, brokerID: "a"), b = try PostgresQueue(url: url, brokerID: "b")
        defer { a.close(); b.close() }
        try a.enqueue(Self.tasks(1))
        let first = try a.claim(methods: ["math.add"], limit: 1)
        #expect(first.map(\.attempt) == [1])
        #expect(try a.release([(id: "t0", attempt: 1)]) == ["t0"])
        // Put back: the old attempt's report is refused before and after the task is claimed again.
        #expect(try a.complete([.init(id: "t0", attempt: 1, outcome: .finished(.string("stale")))]).isEmpty)
        let second = try b.claim(methods: ["math.add"], limit: 1)
        #expect(second.map(\.attempt) == [2])
        #expect(try a.complete([.init(id: "t0", attempt: 1, outcome: .finished(.string("stale")))]).isEmpty)
        #expect(try b.complete([.init(id: "t0", attempt: 2, outcome: .finished(.string("fresh")))]) == ["t0"])
        // After the outcome, no report changes it, not even the current attempt's again.
        #expect(try a.complete([.init(id: "t0", attempt: 1, outcome: .failed(RPCError(code: 1, message: "late")))]).isEmpty)
        #expect(try b.complete([.init(id: "t0", attempt: 2, outcome: .finished(.string("twice")))]).isEmpty)
        let db = Self.database(url)
        #expect(try pg.sql("SELECT result::text || ' ' || status FROM zerotask_results WHERE id = 't0'", database: db) == #""fresh" 7000"#)
        #expect(try pg.sql("SELECT count(*) FROM zerotask_tasks", database: db) == "0")
    }

    @Test func aSilentBrokersClaimsGoBackToTheQueueAndItsLateReportsAreRefused() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let db = Self.database(url)
        let qa = try PostgresQueue(url: url, brokerID: "a"), qb = try PostgresQueue(url: url, brokerID: "b")
        defer { qa.close(); qb.close() }
        let a = BrokerLease(queue: qa), b = BrokerLease(queue: qb)
        #expect(try a.renew())
        #expect(try b.renew())
        try qa.enqueue(Self.tasks(5))
        let held = try qa.claim(methods: ["math.add"], limit: 3)
        #expect(try qa.complete([.init(id: held[0].id, attempt: held[0].attempt, outcome: .finished(1))]) == [held[0].id])
        // Within the timeout nobody is dead.
        #expect(try b.rescue().isEmpty)
        // `a` falls silent past broker_timeout (its lease aged on the database's clock).
        try pg.sql("UPDATE zerotask_brokers SET renewed_at = now() - interval '11 seconds' WHERE id = 'a'", database: db)
        let back = try b.rescue()
        #expect(Set(back.map(\.task)) == Set(held.dropFirst().map(\.id)))
        #expect(back.allSatisfy { $0.broker == "a" })
        #expect(try b.rescue().isEmpty)
        // `b` runs them; `a` comes back, learns it was presumed dead, and its reports change nothing.
        let again = try qb.claim(methods: ["math.add"], limit: 10)
        #expect(Set(again.map(\.id)) == Set(held.dropFirst().map(\.id)).union(["t3", "t4"]))
        #expect(try !a.renew())
        #expect(try qa.complete(held.dropFirst().map { .init(id: $0.id, attempt: $0.attempt, outcome: .finished("stale")) }).isEmpty)
        #expect(try qb.complete(again.map { .init(id: $0.id, attempt: $0.attempt, outcome: .finished("fresh")) }) == Set(again.map(\.id)))
        #expect(try pg.sql("SELECT count(*) FROM zerotask_results WHERE result::text = '\"stale\"'", database: db) == "0")
        #expect(try a.renew())
        // A clean stop puts its claims back at once.
        try qa.enqueue(Self.tasks(2, prefix: "r"))
        #expect(try qa.claim(methods: ["math.add"], limit: 2).count == 2)
        try a.resign()
        #expect(try qb.claim(methods: ["math.add"], limit: 10).map(\.id) == ["r0", "r1"])
    }

    /// Waits (polling the fd, bounded) until `wakeup` has seen `count` notifications in all.
    static func notifications(_ wakeup: QueueWakeup, until count: Int) throws -> [QueueWakeup.Look] {
        var looks: [QueueWakeup.Look] = []
        let deadline = MonotonicInstant.now() + 30
        while looks.reduce(0, { $0 + $1.notifications }) < count && MonotonicInstant.now() < deadline {
            var p = pollfd(fd: wakeup.fileDescriptor!, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 200)
            let look = try wakeup.look(now: 0)
            if look.notifications > 0 { looks.append(look) }
        }
        return looks
    }

    @Test func oneNotifyPerCommitNamesTheBatchsMethodsOnAPollableSocket() throws {
        let url = try Self.server().createDatabase()
        let q = try PostgresQueue(url: url, brokerID: "a")
        defer { q.close() }
        let wakeup = try QueueWakeup(url: url)
        defer { wakeup.close() }
        #expect((wakeup.fileDescriptor ?? -1) >= 0)
        try q.enqueue(Self.tasks(200) + Self.tasks(1, prefix: "x", method: "text.upper"))
        try q.enqueue(Self.tasks(1, prefix: "y", method: "text.upper"))
        let looks = try Self.notifications(wakeup, until: 2)
        // Two commits, two notifications: not one per task.
        #expect(looks.reduce(0) { $0 + $1.notifications } == 2)
        #expect(looks.reduce(into: Set<String>()) { $0.formUnion($1.methods) } == ["math.add", "text.upper"])
        // A released claim notifies for any method.
        let claims = try q.claim(methods: ["math.add"], limit: 1)
        try q.release(claims.map { (id: $0.id, attempt: $0.attempt) })
        #expect(try Self.notifications(wakeup, until: 1).first?.anyMethod == true)
    }

    @Test func withoutNotificationsTheTimerStillWakesTheBrokerAtMostEverySecond() throws {
        let url = try Self.server().createDatabase()
        let polling = try QueueWakeup(url: url, listening: false, pollInterval: 1)
        #expect(polling.fileDescriptor == nil)
        #expect(try polling.look(now: 100).timerDue)
        #expect(try !polling.look(now: 100.5).timerDue)
        #expect(polling.timeoutMilliseconds(now: 100.5) == 500)
        #expect(try polling.look(now: 101).timerDue)
    }

    @Test func aQueueGrownFastFromEmptyStillClaimsAndCompletesOnItsIndexes() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let db = Self.database(url)
        let q = try PostgresQueue(url: url, brokerID: "a")
        defer { q.close() }
        // Statistics taken while the table is empty, then autovacuum kept out: the planner
        // believes the table tiny while it grows to 20,000 rows.
        try pg.sql("ALTER TABLE zerotask_tasks SET (autovacuum_enabled = false); ANALYZE zerotask_tasks", database: db)
        for batch in 0..<20 { try q.enqueue(Self.tasks(1000, prefix: "g\(batch)-")) }
        let claimPlan = try q.plan(PostgresQueue.pickSQL, [#"["math.add"]"#, "100"], ordered: true)
        #expect(claimPlan.contains("zerotask_tasks_claim"), "\(claimPlan)")
        #expect(!claimPlan.contains("Seq Scan"), "\(claimPlan)")
        #expect(Self.wholeScans(claimPlan).isEmpty, "\(claimPlan)")
        let claims = try q.claim(methods: ["math.add"], limit: 100)
        #expect(claims.count == 100)
        let reports = JSONValue.array(claims.map { .object(["id": .string($0.id), "attempt": .int(Int64($0.attempt)), "status": 7000, "result": "1"]) })
        let completePlan = try q.plan(PostgresQueue.completeSQL, [reports.jsonString])
        #expect(completePlan.contains("zerotask_tasks_pkey"), "\(completePlan)")
        #expect(!completePlan.contains("Seq Scan on zerotask_tasks"), "\(completePlan)")
        // On the primary key by an index condition, not a walk of the whole key.
        #expect(Self.wholeScans(completePlan).isEmpty, "\(completePlan)")
        #expect(try q.complete(claims.map { .init(id: $0.id, attempt: $0.attempt, outcome: .finished(1)) }).count == 100)
        #expect(try pg.sql("SELECT count(*) FROM zerotask_tasks", database: db) == "19900")
        // The disabled scans' made-up cost passes jit_above_cost: without JIT turned off, each of
        // these would be compiled first (160–420 ms here, on the broker's thread for a rescue).
        let rescuePlan = try q.plan(BrokerLease.rescueSQL, ["a", "10"])
        for plan in [claimPlan, completePlan, rescuePlan] { #expect(!plan.contains("JIT"), "\(plan)") }
        // The shared store's completion and hand-back name their rows by id: the primary key,
        // never a scan of every task the broker holds (the owner index) or of the queue.
        for sql in [PostgresSharedStore.completeSQL, PostgresSharedStore.releaseSQL] {
            let plan = try q.plan(sql, ["[]", "a"])
            #expect(plan.contains("zerotask_tasks_pkey"), "\(plan)")
            #expect(!plan.contains("zerotask_tasks_owner") && !plan.contains("zerotask_tasks_claim"), "\(plan)")
            #expect(Self.wholeScans(plan).isEmpty, "\(plan)")
        }
    }

    /// Scans in a text plan that read a whole table or index: a sequential scan, or an index
    /// scan without an index condition (the inner side of a merge join).
    static func wholeScans(_ plan: String) -> [String] {
        let lines = plan.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var found: [String] = []
        for (i, line) in lines.enumerated() where line.contains(" on zerotask_") {
            let node = line.hasPrefix("->") ? String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces) : line
            if node.hasPrefix("Seq Scan") { found.append(node); continue }
            guard node.hasPrefix("Index Scan") || node.hasPrefix("Index Only Scan") else { continue }
            let details = lines[(i + 1)...].prefix { !$0.hasPrefix("->") }
            if !details.contains(where: { $0.hasPrefix("Index Cond:") }) { found.append(node) }
        }
        return found
    }

    @Test func tablesGrownFastAfterTheirLastAnalyzeAreReachedByIDNeverScannedWhole() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let db = Self.database(url)
        let q = try PostgresQueue(url: url, brokerID: "a")
        defer { q.close() }
        func finish(_ n: Int, prefix: String) throws {
            try q.enqueue(Self.tasks(n, prefix: prefix))
            let claims = try q.claim(methods: ["math.add"], limit: n)
            #expect(try q.complete(claims.map { .init(id: $0.id, attempt: $0.attempt, outcome: .finished(1)) }).count == n)
        }
        // Statistics taken at 500 results and no tasks, autovacuum kept out, then 20,000 more: in a bench the
        // planner, told 510 results while 2,812 were there, checked a batch of new tasks against
        // them with a merge join that read the whole results index in every commit.
        try pg.sql("ALTER TABLE zerotask_results SET (autovacuum_enabled = false); ALTER TABLE zerotask_tasks SET (autovacuum_enabled = false)", database: db)
        try finish(500, prefix: "s-")
        try pg.sql("ANALYZE zerotask_results; ANALYZE zerotask_tasks", database: db)
        for batch in 0..<20 { try finish(1000, prefix: "r\(batch)-") }
        // And a backlog of 20,000 queued tasks the statistics know nothing of.
        for batch in 0..<20 { try q.enqueue(Self.tasks(1000, prefix: "b\(batch)-")) }
        #expect(try pg.sql("SELECT count(*) FROM zerotask_results", database: db) == "20500")
        #expect(try pg.sql("SELECT count(*) FROM zerotask_tasks", database: db) == "20000")
        // Each statement names its rows by id in a small batch: every table is reached through
        // an index condition, row by row, never read whole.
        let statements: [(name: String, sql: String, params: [String?])] = [
            ("enqueue", PostgresSharedStore.enqueueSQL, [#"[{"id":"n1"}]"#]),
            ("hold", PostgresSharedStore.holdSQL, [#"[{"id":"n1","claim":1}]"#, "a"]),
            ("complete", PostgresSharedStore.completeSQL, [#"[{"id":"n1","claim":1}]"#, "a"]),
            ("release", PostgresSharedStore.releaseSQL, [#"[{"id":"n1","attempt":1}]"#, "a"]),
            ("watch results", PostgresSharedStore.watchSQL(from: "zerotask_results"), [#"["n1"]"#]),
            ("watch tasks", PostgresSharedStore.watchSQL(from: "zerotask_tasks"), [#"["n1"]"#]),
            ("queue enqueue", PostgresQueue.enqueueSQL, [#"[{"id":"n1"}]"#]),
            ("queue complete", PostgresQueue.completeSQL, [#"[{"id":"n1","attempt":1}]"#]),
        ]
        for (name, sql, params) in statements {
            let plan = try q.plan(sql, params)
            #expect(Self.wholeScans(plan).isEmpty, "\(name) reads a whole table: \(Self.wholeScans(plan))\n\(plan)")
        }
        // A claim reads each method's queue in its index's order (the first rows are the best:
        // no sort of the backlog), then looks each picked row up by id.
        let pick = try q.plan(PostgresQueue.pickSQL, [#"["math.add","text.upper"]"#, "100"], ordered: true)
        #expect(pick.contains("Index Scan using zerotask_tasks_claim") && pick.contains("Index Cond: (method = m.method)"), "\(pick)")
        #expect(Self.wholeScans(pick).isEmpty, "the pick reads a whole table: \(Self.wholeScans(pick))\n\(pick)")
        for sql in [PostgresQueue.claimSQL, PostgresSharedStore.claimSQL] {
            let plan = try q.plan(sql, ["a"])
            #expect(Self.wholeScans(plan).isEmpty, "the claim reads a whole table: \(Self.wholeScans(plan))\n\(plan)")
        }
        // And the statements as planned run: a claim of 100 from the backlog, their completion.
        let claims = try q.claim(methods: ["math.add"], limit: 100)
        #expect(claims.count == 100)
        #expect(try q.complete(claims.map { .init(id: $0.id, attempt: $0.attempt, outcome: .finished(1)) }).count == 100)
    }

    @Test func aLongTransactionHeldOpenByAnotherSessionDoesNotStopClaims() throws {
        let url = try Self.server().createDatabase()
        let q = try PostgresQueue(url: url, brokerID: "a")
        defer { q.close() }
        try q.enqueue(Self.tasks(50))
        // Another session holds a snapshot and a row lock on the oldest task, and stays open.
        let other = try PostgresConnection(url: url)
        defer { other.close() }
        try other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(try other.query("SELECT id FROM zerotask_tasks WHERE id = 't0' FOR UPDATE").first?.first == "t0")
        // Enqueues, claims and completions all carry on around it.
        var done = 0, rounds = 0
        while rounds < 100 {
            rounds += 1
            let batch = try q.claim(methods: ["math.add"], limit: 10)
            if batch.isEmpty { break }
            #expect(!batch.map(\.id).contains("t0"))
            done += try q.complete(batch.map { .init(id: $0.id, attempt: $0.attempt, outcome: .finished(1)) }).count
            if rounds <= 3 { try q.enqueue(Self.tasks(1, prefix: "n\(rounds)-")) }
        }
        #expect(done == 49 + 3)
        try other.execute("COMMIT")
        #expect(try q.claim(methods: ["math.add"], limit: 10).map(\.id) == ["t0"])
    }

    @Test func aVersionOneDatabaseIsMigratedInPlace() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let db = Self.database(url)
        // A database as version 1 left it, with an open task.
        try pg.sql(PostgresSchema.step(to: 1) + """
            CREATE TABLE zerotask_schema (version integer NOT NULL); INSERT INTO zerotask_schema VALUES (1);
            INSERT INTO zerotask_tasks (id, client_id, method, params, priority, sequence, max_retries, attempts, status, created)
            VALUES ('old', 'c1', 'math.add', '[1,2]', 0, 41, 0, 0, 1000, 0);
            """, database: db)
        let q = try PostgresQueue(url: url, brokerID: "a")
        defer { q.close() }
        #expect(try pg.sql("SELECT string_agg(version::text, ',') FROM zerotask_schema", database: db) == "\(PostgresSchema.version)")
        try q.enqueue(Self.tasks(1))
        // The new task is numbered after the old one, which is claimed first.
        #expect(try q.claim(methods: ["math.add"], limit: 5).map(\.id) == ["old", "t0"])
        // The v1 store still reads and writes the migrated tables.
        q.close()
        try PostgresTaskStore(url: url).close()
    }
}
