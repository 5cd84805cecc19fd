import ZeroTaskProtocol

/// The SQLite store's `schedules` table: each schedule's definition (as JSON, the fields of
/// `Schedule.definition`), where it came from, its latest tick and the task that tick made.
///
/// Written in the same transaction as the tasks (`SQLiteTaskStore.write`), so a tick's task and
/// the schedule's moved `last_tick` are stored together or not at all.
///
/// An additive change: the table is created when missing, in a file of any schema version, and
/// nothing else reads it; a zerotask from before schedules opens the file as before (and runs no
/// schedules).
final class SQLiteScheduleTable {
    private let upsert, delete: SQLiteStatement
    private let connection: SQLiteConnection

    init(_ c: SQLiteConnection) throws(StoreError) {
        connection = c
        try c.execute("""
            CREATE TABLE IF NOT EXISTS schedules (
                name TEXT PRIMARY KEY NOT NULL,
                definition TEXT NOT NULL,
                origin TEXT NOT NULL,
                last_tick INTEGER NOT NULL,
                last_task_id TEXT,
                last_error TEXT
            ) WITHOUT ROWID
            """)
        upsert = try c.prepare("""
            INSERT OR REPLACE INTO schedules (name, definition, origin, last_tick, last_task_id, last_error)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        delete = try c.prepare("DELETE FROM schedules WHERE name = ?1")
    }

    /// Every schedule kept. A row that no longer reads as a schedule is an error naming it.
    func load(store: String) throws(StoreError) -> [Schedule] {
        var out: [Schedule] = []
        let rows = try connection.prepare("SELECT name, definition, origin, last_tick, last_task_id, last_error FROM schedules ORDER BY name")
        while try rows.step() {
            let name = rows.text(0) ?? ""
            out.append(try Self.schedule(name: name, definition: rows.bytes(1) ?? [], origin: rows.text(2) ?? "", last: rows.int64(3),
                lastTaskID: rows.text(4), lastError: rows.text(5), store: store))
        }
        return out
    }

    /// A stored row as a schedule (shared with PostgreSQL's `zerotask_schedules`).
    static func schedule(name: String, definition: [UInt8], origin: String, last: Int64, lastTaskID: String?, lastError: String?,
        store: String) throws(StoreError) -> Schedule
    {
        do {
            guard case .object(let o) = try JSONValue.parse(definition), let origin = Schedule.Origin(rawValue: origin) else {
                throw StoreError(store: store, reason: "schedule \(name): unreadable row")
            }
            var s = try Schedule(definition: o, context: "schedule \(name)", origin: origin, last: last)
            s.lastTaskID = lastTaskID
            s.lastError = lastError
            return s
        } catch let e as StoreError {
            throw e
        } catch let e as RPCError {
            throw StoreError(store: store, reason: "schedule \(name): \(e.message)")
        } catch {
            throw StoreError(store: store, reason: "schedule \(name): \(error)")
        }
    }

    /// Writes a commit's schedule changes (inside the store's transaction).
    func write(_ changes: StoreChanges) throws(StoreError) {
        for s in changes.schedules {
            upsert.bind(1, s.name)
            upsert.bind(2, JSONValue.object(s.definition).jsonBytes)
            upsert.bind(3, s.origin.rawValue)
            upsert.bind(4, s.last)
            upsert.bind(5, s.lastTaskID)
            upsert.bind(6, s.lastError)
            try upsert.run()
        }
        for name in changes.deletedSchedules {
            delete.bind(1, name)
            try delete.run()
        }
    }

    func close() {
        upsert.finalize()
        delete.finalize()
    }
}
