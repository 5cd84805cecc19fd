import ZeroTaskProtocol

/// The PostgreSQL store's `zerotask_schedules`: the same rows as SQLite's `schedules`
/// (SQLiteScheduleTable), written in the same pipeline as the tasks of a commit.
///
/// Created when missing by `PostgresSchema.migrate` (under its lock), outside the versioned
/// steps: nothing else reads the table, so a database of any version takes it, and an older
/// zerotask ignores it.
enum PostgresScheduleTable {
    static let create = """
        CREATE TABLE IF NOT EXISTS zerotask_schedules (
            name text PRIMARY KEY, definition json NOT NULL, origin text NOT NULL,
            last_tick bigint NOT NULL, last_task_id text, last_error text)
        """

    static func load(_ connection: PostgresConnection, store: String) throws(StoreError) -> [Schedule] {
        var out: [Schedule] = []
        let rows = try connection.query(
            "SELECT name, definition, origin, last_tick, last_task_id, last_error FROM zerotask_schedules ORDER BY name")
        for row in rows {
            let name = row[0] ?? ""
            out.append(try SQLiteScheduleTable.schedule(
                name: name, definition: Array((row[1] ?? "").utf8), origin: row[2] ?? "", last: row[3].flatMap { Int64($0) } ?? 0,
                lastTaskID: row[4], lastError: row[5], store: store))
        }
        return out
    }

    /// A commit's schedule statements: at most one upsert and one delete, whatever the count.
    static func statements(for changes: StoreChanges) -> [PostgresConnection.Statement] {
        var out: [PostgresConnection.Statement] = []
        if !changes.schedules.isEmpty {
            let rows = JSONValue.array(changes.schedules.map { s in
                var o: JSONObject = [
                    "name": .string(s.name), "definition": .string(JSONValue.object(s.definition).jsonString),
                    "origin": .string(s.origin.rawValue), "last_tick": .int(s.last),
                ]
                if let id = s.lastTaskID { o["last_task_id"] = .string(id) }
                if let e = s.lastError { o["last_error"] = .string(e) }
                return .object(o)
            })
            out.append(.init("""
                INSERT INTO zerotask_schedules (name, definition, origin, last_tick, last_task_id, last_error)
                SELECT name, definition::json, origin, last_tick, last_task_id, last_error FROM json_to_recordset($1::json)
                    AS x(name text, definition text, origin text, last_tick bigint, last_task_id text, last_error text)
                ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, origin = EXCLUDED.origin,
                    last_tick = EXCLUDED.last_tick, last_task_id = EXCLUDED.last_task_id, last_error = EXCLUDED.last_error
                """, [rows.jsonString]))
        }
        if !changes.deletedSchedules.isEmpty {
            out.append(.init("DELETE FROM zerotask_schedules WHERE name IN (SELECT json_array_elements_text($1::json))",
                [JSONValue.array(changes.deletedSchedules.map { .string($0) }).jsonString]))
        }
        return out
    }
}
