import ZeroTaskProtocol

/// The PostgreSQL schema, created and migrated by version on start, under an advisory lock so
/// that brokers starting at once do it one at a time. Each step takes the schema from the
/// version before it to its own; a database already at a step's version skips it.
enum PostgresSchema {
    /// 1: tasks, results and clients (one broker per database).
    /// 2: the shared queue: who claimed an open task and when, when it may run, brokers' leases,
    ///    and the partial indexes that claims, completions and rescues use.
    /// 3: a task's `not_before` as its client (or a retry's back-off) set it, its own retry
    ///    policy and its history of failed attempts, in both task tables (`added`).
    /// 4: the tags a task requires (`tags`, both task tables) and the paused methods.
    /// 5: what a task's recorded timeline adds to its fields (`events`, both task tables).
    static let version = 5

    /// Serialises schema changes between brokers that start at once.
    static let migrationLock = 0x7a65_726f_7461_736b  // "zerotask"

    /// The columns of both task tables (v1), in the order `PostgresTaskStore.load` reads them.
    static let columns: [(name: String, type: String)] = [
        ("id", "text PRIMARY KEY"), ("client_id", "text NOT NULL"), ("method", "text NOT NULL"), ("params", "json NOT NULL"),
        ("priority", "bigint NOT NULL"), ("sequence", "bigint NOT NULL"), ("timeout", "double precision"),
        ("max_retries", "integer NOT NULL"), ("result_ttl", "double precision"), ("attempts", "integer NOT NULL"),
        ("status", "integer NOT NULL"), ("node_id", "text"), ("result", "json"), ("error", "json"),
        ("created", "double precision NOT NULL"), ("started", "double precision"), ("finished", "double precision"),
    ] + added

    /// The columns of both task tables added after v1, each by the step named: `start_at` is
    /// the task's `not_before` in seconds since 1970 (the queue's own `not_before`, v2, is the
    /// claim's wake-up time on the hot table only).
    static let added: [(name: String, type: String)] = [("start_at", "double precision"), ("retry", "json"), ("history", "json")]

    /// The columns both task tables took later (v4, v5), read and written after `columns`.
    static let laterColumns: [(name: String, type: String)] = [("tags", "json"), ("events", "json")]

    /// The step to each version, by version.
    static func step(to version: Int) -> String {
        switch version {
        case 1:
            let table = columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
            return """
                CREATE TABLE zerotask_tasks (\(table));
                CREATE TABLE zerotask_results (\(table));
                CREATE TABLE zerotask_clients (id text PRIMARY KEY, connected boolean NOT NULL);
                """
        case 2:
            // `attempts` (v1) is the fence: a claim adds one, and a report names the attempt it
            // answers. The new columns have no default to fill, so the ALTER rewrites nothing.
            // The claim index is partial (queued rows only): it stays as small as the backlog
            // however many tasks run, and a claim's ORDER BY reads it in order. Submission
            // order across brokers comes from one sequence, not from each broker's counter.
            return """
                ALTER TABLE zerotask_tasks ADD COLUMN owner text, ADD COLUMN not_before timestamptz,
                    ADD COLUMN claimed_at timestamptz;
                CREATE SEQUENCE zerotask_task_sequence;
                SELECT setval('zerotask_task_sequence', greatest(1, (SELECT max(sequence) FROM
                    (SELECT sequence FROM zerotask_tasks UNION ALL SELECT sequence FROM zerotask_results) s)));
                CREATE INDEX zerotask_tasks_claim ON zerotask_tasks (method, priority DESC, sequence) WHERE status = \(TaskStatusCode.queued);
                CREATE INDEX zerotask_tasks_owner ON zerotask_tasks (owner) WHERE owner IS NOT NULL;
                CREATE TABLE zerotask_brokers (id text PRIMARY KEY, started_at timestamptz NOT NULL, renewed_at timestamptz NOT NULL);
                """
        case 3:
            // IF NOT EXISTS: a database created at version 1 by this code already has them.
            let add = added.map { "ADD COLUMN IF NOT EXISTS \($0.name) \($0.type)" }.joined(separator: ", ")
            return "ALTER TABLE zerotask_tasks \(add); ALTER TABLE zerotask_results \(add);"
        case 4:
            return """
                ALTER TABLE zerotask_tasks ADD COLUMN IF NOT EXISTS tags json;
                ALTER TABLE zerotask_results ADD COLUMN IF NOT EXISTS tags json;
                CREATE TABLE IF NOT EXISTS zerotask_paused_methods (method text PRIMARY KEY);
                """
        case 5:
            return """
                ALTER TABLE zerotask_tasks ADD COLUMN IF NOT EXISTS events json;
                ALTER TABLE zerotask_results ADD COLUMN IF NOT EXISTS events json;
                """
        default:
            preconditionFailure("no schema step to version \(version)")
        }
    }

    /// Brings the database to `version`, one step per version in one transaction, and creates
    /// the schedules' table when missing (`PostgresScheduleTable`).
    static func migrate(_ connection: PostgresConnection) throws(StoreError) {
        try connection.execute("BEGIN")
        do throws(StoreError) {
            _ = try connection.query("SELECT pg_advisory_xact_lock($1)", [String(migrationLock)])
            try connection.execute("CREATE TABLE IF NOT EXISTS zerotask_schema (version integer NOT NULL)")
            let found = try connection.query("SELECT max(version) FROM zerotask_schema").first?.first ?? nil
            let current = found.flatMap { Int($0) } ?? 0
            guard current <= version else {
                throw StoreError(store: connection.name,
                    reason: "schema version \(current) was written by a newer zerotask (this one knows \(version))")
            }
            if current < version {
                for v in (current + 1)...version { try connection.execute(step(to: v)) }
                try connection.execute("DELETE FROM zerotask_schema; INSERT INTO zerotask_schema (version) VALUES (\(version))")
            }
            // Under the same lock: brokers starting together on a new database raced on the
            // catalog ("duplicate key … pg_type_typname_nsp_index"), and one of them stopped.
            try connection.execute(PostgresScheduleTable.create)
            try connection.execute("COMMIT")
        } catch {
            try? connection.execute("ROLLBACK")
            throw error
        }
    }
}

/// The numeric status codes as SQL literals.
enum TaskStatusCode {
    static let queued = TaskStatus.queued.rawValue, assigned = TaskStatus.assigned.rawValue
    static let running = TaskStatus.running.rawValue
}
