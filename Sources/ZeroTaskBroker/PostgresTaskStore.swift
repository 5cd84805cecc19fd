import Foundation
import ZeroTaskProtocol

/// The broker's durable store in PostgreSQL (`--store postgres://USER@HOST:PORT/DB`).
///
/// The same contract as SQLite: one transaction per group commit, and no reply before the
/// commit that covers it (`StoreWriter`). A commit is one round trip: its statements go as a
/// libpq pipeline, which runs them as one implicit transaction, and each statement takes all
/// rows of its kind as one JSON parameter (`json_to_recordset`), so the number of statements is
/// fixed however many tasks changed.
///
/// Unfinished tasks live in `zerotask_tasks`, finished ones in `zerotask_results`: the hot table
/// holds only what may still run, so claims and completions stay small and on their primary key
/// however many results are kept. The schema is created, and migrated by version, on start.
public final class PostgresTaskStore: TaskStore {
    public var description: String { connection.name }
    public var isDurable: Bool { true }

    /// Held by the broker that owns the database, for as long as its session lasts: until
    /// brokers share a queue (`PostgresQueue`), a second one on the same database would mix two states.
    static let ownerLock = PostgresSchema.migrationLock + 1

    private let connection: PostgresConnection

    /// Connects and brings the schema up to date.
    /// - Parameter password: overrides the URL's (e.g. read from a file); libpq also reads
    ///   `PGPASSWORD` and `~/.pgpass`.
    public init(url: String, password: String? = nil) throws(StoreError) {
        connection = try PostgresConnection(url: url, password: password)
        try migrate()
        try own()
    }

    /// Takes the owner lock, or fails at once when another broker holds it.
    private func own() throws(StoreError) {
        let taken = try connection.query("SELECT pg_try_advisory_lock($1)", [String(Self.ownerLock)]).first?.first ?? nil
        guard taken == "t" else {
            throw StoreError(store: description, reason: "in use by another broker (it holds the database's owner lock)")
        }
    }

    static var columns: [(name: String, type: String)] { PostgresSchema.columns + PostgresSchema.laterColumns }

    private func migrate() throws(StoreError) { try PostgresSchema.migrate(connection) }

    public func load() throws(StoreError) -> StoreContents {
        var contents = StoreContents()
        for row in try connection.query("SELECT id, connected FROM zerotask_clients") {
            contents.clients.append(StoredClient(id: row[0] ?? "", connected: row[1] == "t"))
        }
        let names = Self.columns.map(\.name).joined(separator: ", ")
        let rows = try connection.query("""
            SELECT \(names) FROM zerotask_tasks UNION ALL SELECT \(names) FROM zerotask_results ORDER BY sequence
            """)
        contents.tasks.reserveCapacity(rows.count)
        for row in rows { contents.tasks.append(try Self.task(row, store: description)) }
        contents.pausedMethods = try connection.query("SELECT method FROM zerotask_paused_methods ORDER BY method").compactMap { $0.first ?? nil }
        contents.schedules = try PostgresScheduleTable.load(connection, store: description)
        return contents
    }

    /// A row of `columns`, in their order, as a task; `store` names the store in errors.
    static func task(_ row: [String?], store description: String) throws(StoreError) -> StoredTask {
        let id = row[0] ?? ""
        func json(_ i: Int) throws(StoreError) -> JSONValue? {
            guard let text = row[i] else { return nil }
            do { return try JSONValue.parse(Array(text.utf8)) } catch {
                throw StoreError(store: description, reason: "task \(id): unreadable JSON in \(Self.columns[i].name): \(error)")
            }
        }
        func double(_ i: Int) -> Double? { row[i].flatMap { Double($0) } }
        func int(_ i: Int) -> Int64 { row[i].flatMap { Int64($0) } ?? 0 }
        guard let status = TaskStatus(rawValue: int(10)) else {
            throw StoreError(store: description, reason: "task \(id): unknown status \(row[10] ?? "NULL")")
        }
        let error = try json(13).map { (e) throws(StoreError) -> RPCError in
            guard let r = RPCError(json: e) else { throw StoreError(store: description, reason: "task \(id): unreadable error \(e)") }
            return r
        }
        let retry = try json(18).map { (r) throws(StoreError) -> RetryPolicy in
            do throws(PolicyError) { return try RetryPolicy(json: r, field: "retry") } catch {
                throw StoreError(store: description, reason: "task \(id): unreadable retry policy: \(error)")
            }
        }
        let history = try json(19).map { (h) throws(StoreError) -> [FailedAttempt] in
            guard let list = [FailedAttempt](column: h) else { throw StoreError(store: description, reason: "task \(id): unreadable history \(h)") }
            return list
        }
        var t = StoredTask(
            id: id, clientID: row[1] ?? "", method: row[2] ?? "", params: try json(3) ?? .array([]), priority: int(4),
            sequence: UInt64(bitPattern: int(5)), timeout: double(6), maxRetries: Int(int(7)), resultTTL: double(8),
            attempts: Int(int(9)), status: status, nodeID: row[11], result: try json(12), error: error,
            created: WallInstant(seconds: double(14) ?? 0), started: double(15).map(WallInstant.init(seconds:)),
            finished: double(16).map(WallInstant.init(seconds:)), notBefore: double(17).map(WallInstant.init(seconds:)), retry: retry,
            history: history ?? [])
        if let tags = try json(20) {
            guard let list = tags.arrayValue?.compactMap(\.stringValue), list.count == tags.arrayValue?.count else {
                throw StoreError(store: description, reason: "task \(id): unreadable tags \(tags)")
            }
            t.spec.tags = list
        }
        if let e = try json(21) {
            guard let events = [TaskEvent](column: e) else { throw StoreError(store: description, reason: "task \(id): unreadable events \(e)") }
            t.events = events
        }
        return t
    }

    public func write(_ changes: StoreChanges) throws(StoreError) {
        guard !changes.isEmpty else { return }
        // A server restart breaks the session; the writer retries, and the retry connects again.
        if !connection.isHealthy {
            try connection.reconnect()
            try own()
        }
        try connection.pipeline(Self.statements(for: changes))
    }

    /// One commit's statements: a fixed handful, whatever the number of rows.
    static func statements(for changes: StoreChanges) -> [PostgresConnection.Statement] {
        var out: [PostgresConnection.Statement] = []
        if !changes.clients.isEmpty {
            let rows = JSONValue.array(changes.clients.map { .object(["id": .string($0.id), "connected": .bool($0.connected)]) })
            out.append(.init("""
                INSERT INTO zerotask_clients (id, connected)
                SELECT id, connected FROM json_to_recordset($1::json) AS x(id text, connected boolean)
                ON CONFLICT (id) DO UPDATE SET connected = EXCLUDED.connected
                """, [rows.jsonString]))
        }
        if !changes.deletedClients.isEmpty {
            out.append(.init("DELETE FROM zerotask_clients WHERE id IN (SELECT json_array_elements_text($1::json))",
                [JSONValue.array(changes.deletedClients.map { .string($0) }).jsonString]))
        }
        var open: [StoredTask] = [], finished: [StoredTask] = []
        for t in changes.tasks { if t.status.isComplete { finished.append(t) } else { open.append(t) } }
        if !open.isEmpty { out.append(upsert(open, upsertOpen)) }
        if !finished.isEmpty {
            out.append(upsert(finished, upsertFinished))
            // A task that completes leaves the hot table.
            out.append(delete(finished.map(\.id), from: "zerotask_tasks"))
        }
        if !changes.deletedTasks.isEmpty {
            out.append(delete(changes.deletedTasks, from: "zerotask_tasks"))
            out.append(delete(changes.deletedTasks, from: "zerotask_results"))
        }
        if let paused = changes.pausedMethods {
            out.append(.init("DELETE FROM zerotask_paused_methods"))
            out.append(.init("INSERT INTO zerotask_paused_methods (method) SELECT json_array_elements_text($1::json)",
                [JSONValue.array(paused.sorted().map { .string($0) }).jsonString]))
        }
        out += PostgresScheduleTable.statements(for: changes)
        return out
    }

    /// The upsert of a task table, written once: only its parameter changes per commit.
    static let upsertOpen = upsertSQL(into: "zerotask_tasks"), upsertFinished = upsertSQL(into: "zerotask_results")

    /// The record type `json_to_recordset` reads a task row as (JSON columns travel as text:
    /// their exact bytes; a JSON null result stays `null`).
    static let recordType = columns.map { c in
        "\(c.name) \(c.type.hasPrefix("json") ? "text" : c.type.replacingOccurrences(of: " PRIMARY KEY", with: "").replacingOccurrences(of: " NOT NULL", with: ""))"
    }.joined(separator: ", ")

    /// A record's column as the table's value (`x.` prefixed with `prefix`).
    static func value(_ c: (name: String, type: String), prefix: String = "") -> String {
        c.type.hasPrefix("json") ? "\(prefix)\(c.name)::json" : "\(prefix)\(c.name)"
    }

    private static func upsertSQL(into table: String) -> String {
        let names = columns.map(\.name)
        let record = [recordType]
        let values = columns.map { value($0) }
        let updates = names.dropFirst().map { "\($0) = EXCLUDED.\($0)" }.joined(separator: ", ")
        return """
            INSERT INTO \(table) (\(names.joined(separator: ", ")))
            SELECT \(values.joined(separator: ", ")) FROM json_to_recordset($1::json) AS x(\(record.joined(separator: ", ")))
            ON CONFLICT (id) DO UPDATE SET \(updates)
            """
    }

    private static func upsert(_ tasks: [StoredTask], _ sql: String) -> PostgresConnection.Statement {
        .init(sql, [JSONValue.array(tasks.map(row)).jsonString])
    }

    private static func delete(_ ids: [String], from table: String) -> PostgresConnection.Statement {
        .init("DELETE FROM \(table) WHERE id IN (SELECT json_array_elements_text($1::json))",
            [JSONValue.array(ids.map { .string($0) }).jsonString])
    }

    /// A task as one JSON object keyed by column name (`json_to_recordset` reads it).
    static func row(_ t: StoredTask) -> JSONValue {
        var o: JSONObject = [
            "id": .string(t.id), "client_id": .string(t.clientID), "method": .string(t.method), "params": .string(t.params.jsonString),
            "priority": .int(t.priority), "sequence": .int(Int64(bitPattern: t.sequence)), "max_retries": .int(Int64(t.maxRetries)),
            "attempts": .int(Int64(t.attempts)), "status": .int(t.status.rawValue), "created": .double(t.created.seconds),
        ]
        if let v = t.timeout { o["timeout"] = .double(v) }
        if let v = t.resultTTL { o["result_ttl"] = .double(v) }
        if let v = t.nodeID { o["node_id"] = .string(v) }
        if let v = t.result { o["result"] = .string(v.jsonString) }
        if let v = t.error { o["error"] = .string(v.json.jsonString) }
        if let v = t.started { o["started"] = .double(v.seconds) }
        if let v = t.finished { o["finished"] = .double(v.seconds) }
        if let v = t.notBefore { o["start_at"] = .double(v.seconds) }
        if let v = t.retry { o["retry"] = .string(v.json.jsonString) }
        if !t.history.isEmpty { o["history"] = .string(JSONValue.array(t.history.map(\.json)).jsonString) }
        if !t.spec.tags.isEmpty { o["tags"] = .string(JSONValue.array(t.spec.tags.map { .string($0) }).jsonString) }
        if !t.events.isEmpty { o["events"] = .string(JSONValue.array(t.events.map(\.json)).jsonString) }
        return .object(o)
    }

    /// Releases the owner lock before the session ends: the server drops a closed session's
    /// locks only once it notices, and the next broker must not find it still held.
    public func close() {
        if connection.isHealthy { _ = try? connection.query("SELECT pg_advisory_unlock($1)", [String(Self.ownerLock)]) }
        connection.close()
    }
}
