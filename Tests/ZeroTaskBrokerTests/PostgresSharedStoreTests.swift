#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The shared store's commits against a real server: two brokers' stores on one database, each
/// write fenced by the claim it names, claims and read-backs in the commit's transaction.
@Suite(.serialized) struct PostgresSharedStoreTests {
    static func store(_ url: String, _ id: String) throws -> PostgresSharedStore {
        try PostgresSharedStore(SharedQueueOptions(url: url, brokerID: id))
    }

    static func task(_ id: String, sequence: UInt64, claim: Int? = nil, status: TaskStatus = .queued, result: JSONValue? = nil) -> StoredTask {
        var t = StoredTask(id: id, clientID: "c", method: "math.add", params: [1, 2], sequence: sequence, status: status,
            result: result, created: 1000, finished: result == nil ? nil : 1001)
        t.claim = claim
        return t
    }

    static func changes(_ tasks: [StoredTask], claim: Int = 0, watch: [String] = [], watchOpen: Bool = false) -> StoreChanges {
        var c = StoreChanges()
        c.tasks = tasks
        if claim > 0 { c.shared.claim = .init(methods: ["math.add"], limit: claim) }
        c.shared.watch = watch
        c.shared.watchOpen = watchOpen
        return c
    }

    @Test func aTaskLeftToTheQueueIsClaimedOnceAndOnlyItsHolderFinishesIt() throws {
        let pg = try PostgresServer.shared.get()
        let url = try pg.createDatabase()
        let a = try Self.store(url, "a"), b = try Self.store(url, "b")
        defer { a.close(); b.close() }
        // A queues three; one more it claims on insert (a node of A had room).
        let queued = (0..<3).map { Self.task("t\($0)", sequence: UInt64($0)) }
        #expect(try a.exchange(Self.changes(queued + [Self.task("mine", sequence: 9, claim: 1, status: .assigned)])).refused.isEmpty)
        // B claims for room of ten: the three queued ones, in order, attempt 1; not A's.
        let claimed = try b.exchange(Self.changes([], claim: 10)).claimed
        #expect(claimed.map(\.id) == ["t0", "t1", "t2"] && claimed.allSatisfy { $0.claim == 1 })
        #expect(try b.exchange(Self.changes([], claim: 10)).claimed.isEmpty, "nothing is claimed twice")
        // A cannot finish what B holds, nor B what A holds; each finishes its own once.
        let refused = try a.exchange(Self.changes([Self.task("t0", sequence: 0, claim: 1, status: .finished, result: 3)])).refused
        #expect(refused == ["t0"])
        #expect(try b.exchange(Self.changes([Self.task("mine", sequence: 9, claim: 1, status: .finished, result: 4)])).refused == ["mine"])
        #expect(try b.exchange(Self.changes([Self.task("t0", sequence: 0, claim: 1, status: .finished, result: 3)])).refused.isEmpty)
        #expect(try b.exchange(Self.changes([Self.task("t0", sequence: 0, claim: 1, status: .finished, result: 99)])).refused == ["t0"],
            "a second outcome never replaces the first")
        // A reads back what B finished; on the poll timer also what is still running.
        let outcomes = try a.exchange(Self.changes([], watch: ["t0", "t1"])).watched
        #expect(outcomes.map(\.id) == ["t0"] && outcomes.first?.result == 3)
        let watched = try a.exchange(Self.changes([], watch: ["t0", "t1"], watchOpen: true)).watched
        #expect(Set(watched.map(\.id)) == ["t0", "t1"])
        #expect(watched.first { $0.id == "t0" }?.result == 3 && watched.first { $0.id == "t0" }?.status == .finished)
        #expect(watched.first { $0.id == "t1" }?.status == .assigned)
        let db = String(url.split(separator: "/").last!)
        #expect(try pg.sql("SELECT count(*) FROM zerotask_results", database: db) == "1")
    }

    /// A `client_call` whose first write is its outcome (`StoredTask.neverStored`): straight to
    /// the results, once, with no NOTIFY (no other broker knew of it to read it back).
    @Test func aCallStoredOnlyWithItsOutcomeGoesStraightToTheResultsOnceAndTellsNobody() throws {
        let pg = try PostgresServer.shared.get()
        let url = try pg.createDatabase()
        let db = String(url.split(separator: "/").last!)
        let a = try Self.store(url, "a")
        defer { a.close() }
        let wakeup = try QueueWakeup(url: url)
        defer { wakeup.close() }
        var call = Self.task("call1", sequence: 1, claim: 1, status: .finished, result: 5)
        call.neverStored = true
        #expect(try a.exchange(Self.changes([call])).refused.isEmpty)
        var again = call
        again.result = 6
        #expect(try a.exchange(Self.changes([again])).refused == ["call1"], "a second outcome never replaces the first")
        #expect(try pg.sql("SELECT count(*) FROM zerotask_tasks", database: db) == "0")
        #expect(try pg.sql("SELECT result FROM zerotask_results WHERE id = 'call1'", database: db) == "5")
        // The next commit that queues a task notifies; the calls' commits before it did not.
        _ = try a.exchange(Self.changes([Self.task("q0", sequence: 2)]))
        let looks = try PostgresQueueTests.notifications(wakeup, until: 1)
        #expect(looks.reduce(0) { $0 + $1.notifications } == 1)
        #expect(looks.allSatisfy { !$0.results })
        // An outcome of a task the queue held does tell: another broker may watch it.
        var cancelled = Self.task("q0", sequence: 2, status: .failed)
        cancelled.error = RPCError(.taskCancelled, "cancelled")
        #expect(try a.exchange(Self.changes([cancelled])).refused.isEmpty)
        #expect(try PostgresQueueTests.notifications(wakeup, until: 1).contains { $0.results })
    }

    /// Brokers started together on a new database: each creates or finds the schema (once they
    /// raced on the schedules' table, and one stopped with a duplicate key in the catalog).
    @Test func brokersStartingTogetherOnANewDatabaseAllGetTheirStore() throws {
        let pg = try PostgresServer.shared.get()
        for _ in 0..<3 {
            let url = try pg.createDatabase()
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { i in
                do {
                    let s = try Self.store(url, "b\(i)")
                    _ = try s.load()
                    s.close()
                } catch {
                    failures.withLock { $0.append("broker b\(i): \(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
        }
    }

    @Test func aTaskCancelledWhileQueuedIsRefusedOnceAnotherBrokerClaimedIt() throws {
        let pg = try PostgresServer.shared.get()
        let url = try pg.createDatabase()
        let a = try Self.store(url, "a"), b = try Self.store(url, "b")
        defer { a.close(); b.close() }
        _ = try a.exchange(Self.changes([Self.task("q0", sequence: 0), Self.task("q1", sequence: 1)]))
        _ = try b.exchange(Self.changes([], claim: 1))
        var cancelled = Self.task("q0", sequence: 0, status: .failed)
        cancelled.error = RPCError(.taskCancelled, "cancelled")
        var other = cancelled
        other = Self.task("q1", sequence: 1, status: .failed)
        other.error = cancelled.error
        // q0 went to B: A's cancel is refused; q1 was still queued: cancelled.
        #expect(try a.exchange(Self.changes([cancelled, other])).refused == ["q0"])
        // Submitted and cancelled within one commit: straight to the results.
        var quick = Self.task("q2", sequence: 2, status: .failed)
        quick.error = cancelled.error
        #expect(try a.exchange(Self.changes([quick])).refused.isEmpty)
    }

    @Test func aRowLockedByALongTransactionIsSkippedNotWaitedFor() throws {
        let url = try PostgresServer.shared.get().createDatabase()
        let a = try Self.store(url, "a")
        defer { a.close() }
        _ = try a.exchange(Self.changes((0..<20).map { Self.task("t\($0)", sequence: UInt64($0)) }))
        let other = try PostgresConnection(url: url)
        defer { other.close() }
        try other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        #expect(try other.query("SELECT id FROM zerotask_tasks WHERE id = 't0' FOR UPDATE").first?.first == "t0")
        let claimed = try a.exchange(Self.changes([], claim: 50)).claimed.map(\.id)
        #expect(claimed.count == 19 && !claimed.contains("t0"))
        let done = claimed.map { Self.task($0, sequence: 0, claim: 1, status: .finished, result: 1) }
        #expect(try a.exchange(Self.changes(done)).refused.isEmpty)
        try other.execute("COMMIT")
        #expect(try a.exchange(Self.changes([], claim: 50)).claimed.map(\.id) == ["t0"])
    }
}
