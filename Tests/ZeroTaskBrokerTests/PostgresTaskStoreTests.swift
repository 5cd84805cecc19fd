import Foundation
import Testing
@testable import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The PostgreSQL store against a real server (a throwaway cluster on a free port, see
/// `PostgresServer`), each test in a database of its own.
@Suite(.serialized) struct PostgresTaskStoreTests {
    static func server() throws -> PostgresServer { try PostgresServer.shared.get() }

    static func sample(_ id: String, _ status: TaskStatus, sequence: UInt64) -> StoredTask {
        var t = StoredTask(id: id, clientID: "c1", method: "math.add", params: .array([1, .string("two"), .object(["z": 1, "a": .null])]),
            priority: 3, sequence: sequence, timeout: 2.5, maxRetries: 1, resultTTL: 60, attempts: 1, status: status,
            nodeID: status == .queued ? nil : "n1", created: 1_790_000_000.123456)
        if status == .queued {
            // Delayed, with its own retry policy (schema 3).
            t.notBefore = 1_790_000_100.25
            t.retry = RetryPolicy(maxAttempts: 4, backoff: 0.5, codes: [17, -32060])
        }
        if status == .running { t.started = 1_790_000_001.5 }
        if status == .finished {
            t.result = .null  // a plugin returning nothing: JSON null, not "no result"
            t.finished = 1_790_000_002.25
        }
        if status == .failed {
            t.error = RPCError(code: 4242, message: "failed on purpose", data: .object(["why": "test"]))
            t.finished = 1_790_000_003
            t.history = [
                FailedAttempt(attempt: 1, nodeID: "n1", error: RPCError(code: 4242, message: "first", data: ["n": 1]), at: 1_790_000_002.5),
                FailedAttempt(attempt: 2, nodeID: nil, error: RPCError(code: 4242, message: "failed on purpose"), at: 1_790_000_003),
            ]
            t.events = [
                TaskEvent(.started, at: 1_790_000_001, attempt: 1, nodeID: "n1"),
                TaskEvent(.progress, at: 1_790_000_001.5, attempt: 1, nodeID: "n1", progress: ["done": 0.5]),
                TaskEvent(.requeued, at: 1_790_000_002, attempt: 1, nodeID: "n1", detail: "node n1 lost"),
            ]
        }
        return t
    }

    @Test func whatIsWrittenLoadsBackExactlyAndFinishedTasksLeaveTheHotTable() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let tasks = [Self.sample("c1-a", .queued, sequence: 1), Self.sample("c1-b", .running, sequence: 2),
                     Self.sample("c1-c", .finished, sequence: 3), Self.sample("c1-d", .failed, sequence: 4)]
        do {
            let store = try PostgresTaskStore(url: url)
            defer { store.close() }
            var changes = StoreChanges()
            changes.tasks = tasks
            changes.clients = [StoredClient(id: "c1", connected: true), StoredClient(id: "c2", connected: false)]
            try store.write(changes)
        }
        let store = try PostgresTaskStore(url: url)
        defer { store.close() }
        let loaded = try store.load()
        #expect(loaded.tasks == tasks)
        #expect(Set(loaded.clients.map(\.id)) == ["c1", "c2"])
        #expect(loaded.clients.first { $0.id == "c2" }?.connected == false)
        let db = String(url.split(separator: "/").last!)
        #expect(try pg.sql("SELECT string_agg(id, ',' ORDER BY id) FROM zerotask_tasks", database: db) == "c1-a,c1-b")
        #expect(try pg.sql("SELECT string_agg(id, ',' ORDER BY id) FROM zerotask_results", database: db) == "c1-c,c1-d")
        // The params' text is kept as it was written (key order, nulls).
        #expect(try pg.sql("SELECT params FROM zerotask_tasks WHERE id = 'c1-a'", database: db) == #"[1,"two",{"z":1,"a":null}]"#)
    }

    @Test func tagsAndPausedMethodsLoadBack() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        var tagged = Self.sample("c1-t", .queued, sequence: 1)
        tagged.spec.tags = ["eu", "gpu"]
        var done = Self.sample("c1-u", .finished, sequence: 2)
        done.spec.tags = ["gpu"]
        do {
            let store = try PostgresTaskStore(url: url)
            defer { store.close() }
            var changes = StoreChanges()
            changes.tasks = [tagged, done, Self.sample("c1-v", .queued, sequence: 3)]
            changes.pausedMethods = ["math.add", "work"]
            try store.write(changes)
            var resumed = StoreChanges()
            resumed.pausedMethods = ["work"]
            try store.write(resumed)
        }
        let store = try PostgresTaskStore(url: url)
        defer { store.close() }
        let loaded = try store.load()
        #expect(loaded.tasks.map(\.spec.tags) == [["eu", "gpu"], ["gpu"], []])
        #expect(loaded.pausedMethods == ["work"])
    }

    @Test func laterWritesReplaceAndDeleteRowsAcrossBothTables() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let store = try PostgresTaskStore(url: url)
        var first = StoreChanges()
        first.tasks = [Self.sample("t1", .queued, sequence: 1), Self.sample("t2", .queued, sequence: 2), Self.sample("t3", .finished, sequence: 3)]
        first.clients = [StoredClient(id: "c1", connected: true), StoredClient(id: "gone", connected: true)]
        try store.write(first)
        var second = StoreChanges()
        var done = Self.sample("t1", .finished, sequence: 1)
        done.result = .int(42)
        second.tasks = [done]
        second.deletedTasks = ["t2", "t3"]
        second.deletedClients = ["gone"]
        try store.write(second)
        store.close()

        let again = try PostgresTaskStore(url: url)
        defer { again.close() }
        let loaded = try again.load()
        #expect(loaded.tasks == [done])
        #expect(loaded.clients.map(\.id) == ["c1"])
    }

    @Test func aFailedCommitChangesNothing() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let store = try PostgresTaskStore(url: url)
        defer { store.close() }
        var good = StoreChanges()
        good.tasks = [Self.sample("ok", .queued, sequence: 1)]
        try store.write(good)
        // A NUL byte is valid in a JSON string but not in PostgreSQL text: that statement fails,
        // after the client row in the same pipeline was sent.
        var bad = StoreChanges()
        bad.clients = [StoredClient(id: "half", connected: true)]
        var broken = Self.sample("bad", .queued, sequence: 2)
        broken.method = "nul\u{0}method"
        bad.tasks = [broken]
        #expect(throws: StoreError.self) { try store.write(bad) }
        let loaded = try store.load()
        #expect(loaded.tasks.map(\.id) == ["ok"])
        #expect(loaded.clients.isEmpty)
        // And the connection still works.
        var after = StoreChanges()
        after.clients = [StoredClient(id: "after", connected: true)]
        try store.write(after)
        #expect(try store.load().clients.map(\.id) == ["after"])
    }

    @Test func oneBrokerOwnsADatabaseUntilItCloses() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let owner = try PostgresTaskStore(url: url)
        #expect {
            try PostgresTaskStore(url: url)
        } throws: { error in
            "\(error)".contains("in use by another broker") && !"\(error)".contains(PostgresServer.password)
        }
        owner.close()
        let next = try PostgresTaskStore(url: url)
        next.close()
    }

    @Test func aSchemaFromANewerVersionIsRefused() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        try PostgresTaskStore(url: url).close()
        let db = String(url.split(separator: "/").last!)
        try pg.sql("UPDATE zerotask_schema SET version = 99", database: db)
        #expect {
            try PostgresTaskStore(url: url)
        } throws: { error in
            "\(error)".contains("schema version 99") && "\(error)".contains("newer zerotask")
        }
    }

    @Test func thePasswordComesFromTheURLOrTheCallerAndIsNeverShown() throws {
        let pg = try Self.server()
        let url = try pg.createDatabase()
        let bare = url.replacingOccurrences(of: ":\(PostgresServer.password)@", with: "@")
        #expect {
            try PostgresTaskStore(url: bare)
        } throws: { error in
            "\(error)".contains("cannot connect") && "\(error)".contains(bare)
        }
        try PostgresTaskStore(url: bare, password: PostgresServer.password).close()
        #expect {
            try PostgresTaskStore(url: bare, password: "wrong")
        } throws: { error in
            "\(error)".contains("password authentication failed") && !"\(error)".contains("wrong")
        }
        #expect(PostgresConnection.redacted("postgres://u:secret@h:5/db") == "postgres://u@h:5/db")
    }

    @Test func statementsArePreparedOncePerSessionAndAgainInTheNextOne() throws {
        let url = try Self.server().createDatabase()
        let c = try PostgresConnection(url: url)
        defer { c.close() }
        func prepared(_ on: PostgresConnection) throws -> [String] {
            try on.query("SELECT statement FROM pg_prepared_statements ORDER BY statement").compactMap { $0.first ?? nil }
        }
        let add = PostgresConnection.Statement("SELECT $1::int + 1", ["41"])
        for _ in 0..<3 { #expect(try c.pipeline([add, add])[1] == [["42"]]) }
        #expect(try prepared(c) == ["SELECT $1::int + 1"])
        // A statement that cannot be prepared is an error naming it, and the session carries on.
        #expect(throws: StoreError.self) { try c.pipeline([.init("SELEC 1")]) }
        #expect(try c.pipeline([add])[0] == [["42"]])
        #expect(try prepared(c) == ["SELECT $1::int + 1"])
        // A new session (the server ended the old one) prepares again.
        let admin = try PostgresConnection(url: url)
        defer { admin.close() }
        _ = try admin.query("SELECT pg_terminate_backend($1::int)", [String(c.backendPID)])
        #expect(throws: StoreError.self) { try c.pipeline([add]) }
        #expect(!c.isHealthy)
        try c.reconnect()
        #expect(try c.pipeline([add])[0] == [["42"]])
        #expect(try prepared(c) == ["SELECT $1::int + 1"])
        // Behind a transaction-mode pooler: nothing prepared.
        let pooled = try PostgresConnection(url: url)
        defer { pooled.close() }
        pooled.prepares = false
        #expect(try pooled.pipeline([add])[0] == [["42"]])
        #expect(try prepared(pooled).isEmpty)
    }

    @Test func anUnreachableServerIsAClearError() throws {
        let port = try unusedEndpoint().split(separator: ":").last!
        let url = "postgres://zerotask:pw@127.0.0.1:\(port)/nothing"
        #expect {
            try PostgresTaskStore(url: url)
        } throws: { error in
            "\(error)".contains("postgres://zerotask@127.0.0.1:\(port)/nothing") && "\(error)".contains("cannot connect")
        }
    }
}
