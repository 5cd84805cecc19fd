import CSQLite
import Foundation
import ZeroTaskProtocol

/// The embedded durable store: one SQLite file in WAL mode, written by one broker.
///
/// The broker holds the file exclusively (`locking_mode=EXCLUSIVE`): a second broker started on
/// the same file fails at once with a clear error instead of mixing two brokers' states. The
/// lock is a POSIX lock, so a broker killed with SIGKILL leaves none behind.
public final class SQLiteTaskStore: TaskStore {
    /// How hard a commit pushes to the disk (SQLite's `synchronous` in WAL mode).
    public enum Synchronous: String, Sendable, CaseIterable {
        /// A commit is in the WAL file when it returns: it survives the broker being killed, not
        /// the machine losing power (the last commits may be lost then).
        case normal
        /// A commit is fsync'ed before it returns: it survives a power loss too.
        case full
    }

    public let path: String
    public let synchronous: Synchronous
    private let connection: SQLiteConnection
    private let begin, commit, rollback, upsertTask, deleteTask, upsertClient, deleteClient, clearPaused, insertPaused: SQLiteStatement
    /// Periodic schedules (SQLiteScheduleTable.swift).
    private let schedules: SQLiteScheduleTable

    public var description: String { "sqlite:\(path)" }
    public var isDurable: Bool { true }

    /// 1: the first schema. 2: `tasks.result_ttl` (a task's own result lifetime), added to a
    /// version 1 file in place when it is opened. 3: `tasks.not_before`, `tasks.retry` and
    /// `tasks.history` (delays and retries after application errors), added likewise. 4:
    /// `tasks.tags` (the tags a task requires, a JSON list) and the `paused_methods` table. 5:
    /// `tasks.events` (what the task's recorded timeline adds to its fields, `TaskEvent`).
    static let schemaVersion = 5

    /// Columns added after version 1, each with its type: added to an older file when missing
    /// (found by name, so the order in which versions were merged does not matter).
    static let addedColumns = [("result_ttl", "REAL"), ("not_before", "REAL"), ("retry", "TEXT"), ("history", "TEXT"), ("tags", "TEXT"), ("events", "TEXT")]

    /// Opens (creating when missing) the file and its directory.
    public init(path: String, synchronous: Synchronous = .full) throws(StoreError) {
        self.path = path
        self.synchronous = synchronous
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw StoreError(store: "sqlite:\(path)", reason: "cannot create the directory \(directory): \(error.localizedDescription)")
            }
        }
        let c = try SQLiteConnection(path: path)
        connection = c
        sqlite3_busy_timeout(c.db, 2000)
        // Exclusive before WAL: no shared-memory index, and the file stays locked while we run.
        try c.execute("PRAGMA locking_mode=EXCLUSIVE")
        let mode: String?
        do {
            mode = try c.text("PRAGMA journal_mode=WAL")
        } catch {
            throw Self.explainBusy(error, path: path)
        }
        guard mode?.lowercased() == "wal" else {
            throw StoreError(store: "sqlite:\(path)", reason: "cannot use WAL mode (journal_mode is \(mode ?? "unknown"))")
        }
        try c.execute("PRAGMA synchronous=\(synchronous.rawValue.uppercased())")
        let version = Int(try c.text("PRAGMA user_version") ?? "0") ?? 0
        var columns: Set<String> = []
        let info = try c.prepare("PRAGMA table_info(tasks)")
        while try info.step() { if let name = info.text(1) { columns.insert(name) } }
        info.finalize()
        guard version <= Self.schemaVersion else {
            throw StoreError(store: "sqlite:\(path)", reason: "schema version \(version) was written by a newer zerotask (this one knows \(Self.schemaVersion))")
        }
        do {
            // Taking the write lock here makes a second broker on this file fail now, not later.
            try c.execute("""
                BEGIN IMMEDIATE;
                CREATE TABLE IF NOT EXISTS tasks (
                    id TEXT PRIMARY KEY NOT NULL,
                    client_id TEXT NOT NULL,
                    method TEXT NOT NULL,
                    params TEXT NOT NULL,
                    priority INTEGER NOT NULL,
                    sequence INTEGER NOT NULL,
                    timeout REAL,
                    max_retries INTEGER NOT NULL,
                    attempts INTEGER NOT NULL,
                    status INTEGER NOT NULL,
                    node_id TEXT,
                    result TEXT,
                    error TEXT,
                    created REAL NOT NULL,
                    started REAL,
                    finished REAL,
                    result_ttl REAL,
                    not_before REAL,
                    retry TEXT,
                    history TEXT,
                    tags TEXT,
                    events TEXT
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS clients (
                    id TEXT PRIMARY KEY NOT NULL,
                    connected INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS paused_methods (
                    method TEXT PRIMARY KEY NOT NULL
                ) WITHOUT ROWID;
                \(Self.migrations(from: version, columns: columns))
                PRAGMA user_version = \(Self.schemaVersion);
                COMMIT;
                """)
        } catch {
            try? c.execute("ROLLBACK")
            throw Self.explainBusy(error, path: path)
        }
        begin = try c.prepare("BEGIN")
        commit = try c.prepare("COMMIT")
        rollback = try c.prepare("ROLLBACK")
        upsertTask = try c.prepare("""
            INSERT OR REPLACE INTO tasks (id, client_id, method, params, priority, sequence, timeout, max_retries,
                attempts, status, node_id, result, error, created, started, finished, result_ttl, not_before, retry, history, tags, events)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
            """)
        deleteTask = try c.prepare("DELETE FROM tasks WHERE id = ?1")
        upsertClient = try c.prepare("INSERT OR REPLACE INTO clients (id, connected) VALUES (?1, ?2)")
        deleteClient = try c.prepare("DELETE FROM clients WHERE id = ?1")
        clearPaused = try c.prepare("DELETE FROM paused_methods")
        insertPaused = try c.prepare("INSERT INTO paused_methods (method) VALUES (?1)")
        schedules = try SQLiteScheduleTable(c)
    }

    /// The statements that bring a file of schema `version` to the current one (inside the
    /// opening transaction, after the tables exist in at least version 1's shape).
    /// - Parameter columns: the `tasks` table's columns before opening (none for a new file).
    static func migrations(from version: Int, columns: Set<String>) -> String {
        var sql: [String] = []
        // Version 0 is a new file: its tables were just created in the current shape.
        guard version >= 1, !columns.isEmpty else { return "" }
        for (name, type) in addedColumns where !columns.contains(name) {
            sql.append("ALTER TABLE tasks ADD COLUMN \(name) \(type);")
        }
        return sql.joined(separator: "\n")
    }

    private static func explainBusy(_ error: StoreError, path: String) -> StoreError {
        guard error.reason.contains("locked") || error.reason.contains("busy") else { return error }
        return StoreError(store: "sqlite:\(path)", reason: "in use by another broker (the file is locked)")
    }

    public func load() throws(StoreError) -> StoreContents {
        var contents = StoreContents()
        let clients = try connection.prepare("SELECT id, connected FROM clients")
        while try clients.step() {
            contents.clients.append(StoredClient(id: clients.text(0) ?? "", connected: clients.int64(1) != 0))
        }
        let tasks = try connection.prepare("""
            SELECT id, client_id, method, params, priority, sequence, timeout, max_retries, attempts, status,
                node_id, result, error, created, started, finished, result_ttl, not_before, retry, history, tags, events
            FROM tasks ORDER BY sequence
            """)
        while try tasks.step() {
            let id = tasks.text(0) ?? ""
            func json(_ c: Int32) throws(StoreError) -> JSONValue? {
                guard let b = tasks.bytes(c) else { return nil }
                do { return try JSONValue.parse(b) } catch {
                    throw StoreError(store: description, reason: "task \(id): unreadable JSON in column \(c): \(error)")
                }
            }
            guard let status = TaskStatus(rawValue: tasks.int64(9)) else {
                throw StoreError(store: description, reason: "task \(id): unknown status \(tasks.int64(9))")
            }
            let error = try json(12).map { (e) throws(StoreError) -> RPCError in
                guard let r = RPCError(json: e) else {
                    throw StoreError(store: description, reason: "task \(id): unreadable error \(e)")
                }
                return r
            }
            let retry = try json(18).map { (r) throws(StoreError) -> RetryPolicy in
                do throws(PolicyError) { return try RetryPolicy(json: r, field: "retry") } catch {
                    throw StoreError(store: description, reason: "task \(id): unreadable retry policy: \(error)")
                }
            }
            let history = try json(19).map { (h) throws(StoreError) -> [FailedAttempt] in
                guard let list = [FailedAttempt](column: h) else {
                    throw StoreError(store: description, reason: "task \(id): unreadable history \(h)")
                }
                return list
            }
            var tagList: [String] = []
            if let t = try json(20) {
                guard let list = t.arrayValue?.compactMap(\.stringValue), list.count == t.arrayValue?.count else {
                    throw StoreError(store: description, reason: "task \(id): unreadable tags \(t)")
                }
                tagList = list
            }
            contents.tasks.append(StoredTask(
                id: id, clientID: tasks.text(1) ?? "", method: tasks.text(2) ?? "", params: try json(3) ?? .array([]),
                priority: tasks.int64(4), sequence: UInt64(bitPattern: tasks.int64(5)), timeout: tasks.double(6),
                maxRetries: Int(tasks.int64(7)), resultTTL: tasks.double(16), attempts: Int(tasks.int64(8)), status: status,
                nodeID: tasks.text(10), result: try json(11), error: error, created: WallInstant(seconds: tasks.double(13) ?? 0),
                started: tasks.double(14).map(WallInstant.init(seconds:)), finished: tasks.double(15).map(WallInstant.init(seconds:)),
                notBefore: tasks.double(17).map(WallInstant.init(seconds:)), retry: retry,
                history: history ?? []))
            contents.tasks[contents.tasks.count - 1].spec.tags = tagList
            if let e = try json(21) {
                guard let events = [TaskEvent](column: e) else {
                    throw StoreError(store: description, reason: "task \(id): unreadable events \(e)")
                }
                contents.tasks[contents.tasks.count - 1].events = events
            }
        }
        let paused = try connection.prepare("SELECT method FROM paused_methods ORDER BY method")
        while try paused.step() { if let m = paused.text(0) { contents.pausedMethods.append(m) } }
        contents.schedules = try schedules.load(store: description)
        return contents
    }

    public func write(_ changes: StoreChanges) throws(StoreError) {
        guard !changes.isEmpty else { return }
        try begin.run()
        do {
            for c in changes.clients {
                upsertClient.bind(1, c.id)
                upsertClient.bind(2, Int64(c.connected ? 1 : 0))
                try upsertClient.run()
            }
            for id in changes.deletedClients {
                deleteClient.bind(1, id)
                try deleteClient.run()
            }
            for t in changes.tasks {
                let s = upsertTask
                s.bind(1, t.id)
                s.bind(2, t.clientID)
                s.bind(3, t.method)
                s.bind(4, t.params.jsonBytes)
                s.bind(5, t.priority)
                s.bind(6, Int64(bitPattern: t.sequence))
                s.bind(7, t.timeout)
                s.bind(8, Int64(t.maxRetries))
                s.bind(9, Int64(t.attempts))
                s.bind(10, t.status.rawValue)
                s.bind(11, t.nodeID)
                s.bind(12, t.result?.jsonBytes)
                s.bind(13, t.error?.json.jsonBytes)
                s.bind(14, t.created.seconds)
                s.bind(15, t.started?.seconds)
                s.bind(16, t.finished?.seconds)
                s.bind(17, t.resultTTL)
                s.bind(18, t.notBefore?.seconds)
                s.bind(19, t.retry?.json.jsonBytes)
                s.bind(20, t.history.column)
                s.bind(21, t.spec.tags.isEmpty ? nil : JSONValue.array(t.spec.tags.map { .string($0) }).jsonBytes)
                s.bind(22, t.events.column)
                try s.run()
            }
            if let paused = changes.pausedMethods {
                try clearPaused.run()
                for m in paused.sorted() {
                    insertPaused.bind(1, m)
                    try insertPaused.run()
                }
            }
            for id in changes.deletedTasks {
                deleteTask.bind(1, id)
                try deleteTask.run()
            }
            try schedules.write(changes)
            try commit.run()
        } catch {
            try? rollback.run()
            throw error
        }
    }

    /// Finalizes the statements and closes the file, which releases its lock.
    public func close() {
        for s in [begin, commit, rollback, upsertTask, deleteTask, upsertClient, deleteClient, clearPaused, insertPaused] { s.finalize() }
        schedules.close()
        connection.close()
    }
}
