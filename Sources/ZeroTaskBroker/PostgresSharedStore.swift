import Foundation
import Synchronization
import ZeroTaskProtocol

/// The store of a broker on a shared PostgreSQL queue (`--store postgres://…`): several brokers
/// on one database form one system (issue 16; `BrokerState+Shared` has the rules).
///
/// Each commit is one round trip, one transaction of a fixed handful of statements whatever the
/// number of tasks (rows travel as one JSON parameter each): this broker's changes, each fenced,
/// then a claim for the room its nodes have, a read-back of the tasks it watches, and at most
/// one NOTIFY. The fences:
///
/// - a task this broker claimed is written only while the database still says this broker
///   holds that attempt (`owner`, `attempts`); a task left to the queue only while nobody
///   claimed it. A write the fence refuses is reported back (`StoreFeedback.refused`) and the
///   broker gives the task up: a broker presumed dead that comes back can never overwrite the
///   outcome of the attempt that replaced its own.
/// - a finished task moves to `zerotask_results` in the statement that accepts it, once
///   (`ON CONFLICT DO NOTHING`: never two results).
///
/// Every transaction first turns sequential and whole-index scans off for itself
/// (`PostgresQueue.planSettings`; the claim turns index order back on for itself): claims and
/// completions stay on their indexes, each row looked up by id, however fast the queue table
/// grew from empty.
public final class PostgresSharedStore: TaskStore {
    public var description: String { connection.name }
    public var isDurable: Bool { true }
    /// The owner this broker's claims carry (`zerotask_tasks.owner`, the lease row's id).
    public var brokerID: String { options.brokerID }
    /// How the broker thread joins the queue (`SharedQueueLink`).
    public let options: SharedQueueOptions
    private let connection: PostgresConnection
    private let committer = Atomic<Int32>(0)

    /// The server process that runs this store's commits: its notifications are this broker's
    /// own, which the broker does not act on (it knows what it queued and finished).
    public var committerPID: Int32 { committer.load(ordering: .relaxed) }

    public init(_ options: SharedQueueOptions) throws(StoreError) {
        self.options = options
        connection = try PostgresConnection(url: options.url, password: options.password)
        connection.prepares = options.listening
        try PostgresSchema.migrate(connection)
    }

    /// Clients, paused methods and schedules; no tasks: they are the queue's, claimed as room
    /// allows, and read on demand.
    public func load() throws(StoreError) -> StoreContents {
        var contents = StoreContents()
        for row in try connection.query("SELECT id, connected FROM zerotask_clients") {
            contents.clients.append(StoredClient(id: row[0] ?? "", connected: row[1] == "t"))
        }
        contents.pausedMethods = try connection.query("SELECT method FROM zerotask_paused_methods ORDER BY method").compactMap { $0.first ?? nil }
        contents.schedules = try PostgresScheduleTable.load(connection, store: description)
        return contents
    }

    public func write(_ changes: StoreChanges) throws(StoreError) { _ = try exchange(changes) }

    public func exchange(_ changes: StoreChanges) throws(StoreError) -> StoreFeedback {
        guard !changes.isEmpty else { return StoreFeedback() }
        if !connection.isHealthy { try connection.reconnect() }
        committer.store(connection.backendPID, ordering: .relaxed)
        var statements = [PostgresQueue.planSettings]
        statements += Self.clientStatements(changes)
        var queued: [StoredTask] = [], held: [StoredTask] = [], done: [StoredTask] = [], fresh: [StoredTask] = []
        // In submission order: the queue's sequence is drawn row by row.
        for t in changes.tasks.sorted(by: { $0.sequence < $1.sequence }) {
            if t.neverStored && t.status.isComplete { fresh.append(t) }
            else if t.status.isComplete { done.append(t) } else if t.claim != nil { held.append(t) } else { queued.append(t) }
        }
        if !queued.isEmpty { statements.append(.init(Self.enqueueSQL, [Self.rows(queued)])) }
        let heldAt = statements.count
        if !held.isEmpty { statements.append(.init(Self.holdSQL, [Self.rows(held), brokerID])) }
        let doneAt = statements.count
        if !done.isEmpty { statements.append(.init(Self.completeSQL, [Self.rows(done), brokerID])) }
        let freshAt = statements.count
        if !fresh.isEmpty { statements.append(.init(Self.resultSQL, [Self.rows(fresh)])) }
        if !changes.deletedTasks.isEmpty {
            statements.append(.init("DELETE FROM zerotask_results WHERE id IN (SELECT json_array_elements_text($1::json))",
                [JSONValue.array(changes.deletedTasks.map { .string($0) }).jsonString]))
        }
        if let paused = changes.pausedMethods {
            statements.append(.init("DELETE FROM zerotask_paused_methods"))
            statements.append(.init("INSERT INTO zerotask_paused_methods (method) SELECT json_array_elements_text($1::json)",
                [JSONValue.array(paused.sorted().map { .string($0) }).jsonString]))
        }
        statements += PostgresScheduleTable.statements(for: changes)
        let r = changes.shared
        if !r.releases.isEmpty {
            let rows = JSONValue.array(r.releases.map { .object(["id": .string($0.id), "attempt": .int(Int64($0.attempt))]) })
            statements.append(.init(Self.releaseSQL, [rows.jsonString, brokerID]))
        }
        var claimAt: Int?
        if let ask = r.claim {
            statements += Self.claimStatements(ask, brokerID: brokerID)
            claimAt = statements.count - 1
        }
        let watchAt = statements.count
        if !r.watch.isEmpty {
            let ids = JSONValue.array(r.watch.map { .string($0) }).jsonString
            statements.append(.init(Self.watchSQL(from: "zerotask_results"), [ids]))
            if r.watchOpen { statements.append(.init(Self.watchSQL(from: "zerotask_tasks"), [ids])) }
        }
        // One NOTIFY per commit, whatever it holds: other brokers claim the methods it names
        // (none named: any), and read back what they watch when it says results were written
        // (not for results of tasks none of them knew: `fresh`).
        if !queued.isEmpty || !r.releases.isEmpty || !done.isEmpty {
            let names = Set(queued.map(\.method)).sorted().joined(separator: ",")
            let methods = !r.releases.isEmpty || names.utf8.count > 7000 ? QueueWakeup.anyMethod : names
            let payload = done.isEmpty ? methods : methods + QueueWakeup.resultsFlag
            statements.append(.init("SELECT pg_notify($1, $2)", [PostgresQueue.channel, payload]))
        }
        let out = try connection.pipeline(statements)

        var back = StoreFeedback()
        func ids(_ at: Int) -> Set<String> { Set(out[at].compactMap { $0.first ?? nil }) }
        if !held.isEmpty {
            let accepted = ids(heldAt)
            back.refused += held.map(\.id).filter { !accepted.contains($0) }
        }
        if !done.isEmpty {
            let accepted = ids(doneAt)
            back.refused += done.map(\.id).filter { !accepted.contains($0) }
        }
        if !fresh.isEmpty {
            let accepted = ids(freshAt)
            back.refused += fresh.map(\.id).filter { !accepted.contains($0) }
        }
        if let claimAt, let ask = r.claim, ask.limit > 0 {
            back.claimed = try Self.claimed(out[claimAt], store: description)
            back.asked = ask
        }
        if !r.watch.isEmpty {
            for row in out[watchAt..<(watchAt + (r.watchOpen ? 2 : 1))].joined() {
                back.watched.append(try PostgresTaskStore.task(row, store: description))
            }
        }
        return back
    }

    public func close() { connection.close() }

    // MARK: Statements

    static func clientStatements(_ changes: StoreChanges) -> [PostgresConnection.Statement] {
        var only = StoreChanges()
        only.clients = changes.clients
        only.deletedClients = changes.deletedClients
        return PostgresTaskStore.statements(for: only)
    }

    /// The tasks as one JSON parameter: each row as `PostgresTaskStore` writes it, with the
    /// claim's attempt as its `attempts` (the fence) and the claim itself.
    static func rows(_ tasks: [StoredTask]) -> String {
        JSONValue.array(tasks.map { t in
            guard case .object(var o) = PostgresTaskStore.row(t) else { return .null }
            if let claim = t.claim {
                o["attempts"] = .int(Int64(claim))
                o["claim"] = .int(Int64(claim))
                // Claimed is assigned to the queue, even while it waits here for a node.
                if t.status == .queued { o["status"] = .int(TaskStatus.assigned.rawValue) }
            }
            return .object(o)
        }).jsonString
    }

    static let columns = PostgresTaskStore.columns
    static let names = columns.map(\.name).joined(separator: ", ")
    static let record = PostgresTaskStore.recordType + ", claim integer"
    /// The row's values with the sequence drawn from the queue's own (one order across brokers).
    static func values(prefix: String) -> String {
        columns.map { c in c.name == "sequence" ? "nextval('zerotask_task_sequence')" : PostgresTaskStore.value(c, prefix: prefix) }
            .joined(separator: ", ")
    }
    static let open = "\(TaskStatusCode.assigned), \(TaskStatusCode.running)"

    /// Tasks left to the queue, claimed by nobody: inserted once (a task the database has
    /// already, queued, claimed or finished, is left as it is: a resend, or an echo).
    static let enqueueSQL = """
        INSERT INTO zerotask_tasks (\(names), owner, not_before)
        SELECT \(values(prefix: "x.")), NULL, CASE WHEN x.start_at IS NULL THEN NULL ELSE to_timestamp(x.start_at) END
        FROM json_to_recordset($1::json) AS x(\(record))
        WHERE NOT EXISTS (SELECT 1 FROM zerotask_results r WHERE r.id = x.id)
        ON CONFLICT (id) DO NOTHING
        """

    /// Tasks this broker holds, not finished: their state, fenced by the claim. A claim made on
    /// insert (attempt 1, a task submitted here while a node here had room) is the row's first
    /// write; any other task must be in the table already, held by this broker at this attempt.
    static let holdSQL = """
        INSERT INTO zerotask_tasks (\(names), owner, claimed_at)
        SELECT \(values(prefix: "x.")), $2, now()
        FROM json_to_recordset($1::json) AS x(\(record))
        WHERE NOT EXISTS (SELECT 1 FROM zerotask_results r WHERE r.id = x.id)
            AND (x.claim = 1 OR EXISTS (SELECT 1 FROM zerotask_tasks t WHERE t.id = x.id))
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, node_id = EXCLUDED.node_id, started = EXCLUDED.started,
            history = EXCLUDED.history, events = EXCLUDED.events
        WHERE zerotask_tasks.owner = $2 AND zerotask_tasks.attempts = EXCLUDED.attempts
            AND zerotask_tasks.status IN (\(open))
        RETURNING id
        """

    /// Finished tasks leave the queue table for the results table in one statement, accepted
    /// when this broker holds the task at its claim's attempt, or (no claim: cancelled here)
    /// while nobody claimed it; a task never written before (claimed on insert, or left to
    /// the queue, and finished in the same commit) goes straight to the results.
    static let completeSQL = """
        WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(\(record))),
        gone AS (
            DELETE FROM zerotask_tasks t USING x
            WHERE t.id = x.id AND (
                (x.claim IS NOT NULL AND \(unindexed("t.owner")) = $2 AND t.attempts = x.claim AND t.status + 0 IN (\(open)))
                OR (x.claim IS NULL AND t.status + 0 = \(TaskStatusCode.queued) AND \(unindexed("t.owner")) = ''))
            RETURNING t.id
        ),
        fresh AS (
            SELECT x.id FROM x WHERE (x.claim IS NULL OR x.claim = 1)
                AND NOT EXISTS (SELECT 1 FROM zerotask_tasks t WHERE t.id = x.id)
                AND NOT EXISTS (SELECT 1 FROM zerotask_results r WHERE r.id = x.id)
        )
        INSERT INTO zerotask_results (\(names))
        SELECT \(values(prefix: "x.")) FROM x WHERE x.id IN (SELECT id FROM gone UNION ALL SELECT id FROM fresh)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """

    /// Results of tasks written for the first time (`StoredTask.neverStored`): no queue row to
    /// take them from, and once only.
    static let resultSQL = """
        INSERT INTO zerotask_results (\(names))
        SELECT \(values(prefix: "x.")) FROM json_to_recordset($1::json) AS x(\(record))
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """

    /// Claims handed back (no node here serves them), fenced like a report.
    static let releaseSQL = """
        UPDATE zerotask_tasks t SET status = \(TaskStatusCode.queued), owner = NULL, claimed_at = NULL, node_id = NULL
        FROM json_to_recordset($1::json) AS x(id text, attempt integer)
        WHERE t.id = x.id AND t.attempts = x.attempt AND \(unindexed("t.owner")) = $2 AND t.status + 0 IN (\(open))
        """

    /// A column compared so that no index serves the comparison (with `status + 0` for the
    /// status): statements that name their rows by id reach them by the primary key alone.
    /// The owner and status indexes would otherwise look cheaper on a table that grew fast
    /// from empty (statistics that say "one row"), and the planner scanned every task this
    /// broker holds once per reported task: a 40-task completion took 4.8 ms instead of ~0.3.
    static func unindexed(_ column: String) -> String { "coalesce(\(column), '')" }

    /// The claim's second step, returning whole rows (`PostgresQueue.pickSQL` picks them).
    static let claimSQL = PostgresQueue.claimSQL(returning: columns.map { "t.\($0.name)" }.joined(separator: ", "))

    static func claimStatements(_ ask: SharedQueueRequest.Claim, brokerID: String) -> [PostgresConnection.Statement] {
        PostgresQueue.claim(methods: Set(ask.methods), limit: ask.limit, brokerID: brokerID, update: claimSQL)
    }

    /// The claim's rows as tasks, in the queue's order (best priority first, then oldest:
    /// RETURNING keeps none), each with its claim.
    static func claimed(_ rows: [[String?]], store: String) throws(StoreError) -> [StoredTask] {
        var out: [StoredTask] = []
        for row in rows {
            var t = try PostgresTaskStore.task(row, store: store)
            t.claim = t.attempts
            out.append(t)
        }
        return out.sorted { $0.priority != $1.priority ? $0.priority > $1.priority : $0.sequence < $1.sequence }
    }

    static func watchSQL(from table: String) -> String {
        "SELECT \(names) FROM \(table) WHERE id IN (SELECT json_array_elements_text($1::json))"
    }
}
