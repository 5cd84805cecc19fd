import Foundation
import ZeroTaskProtocol

/// The queue that several brokers share in one PostgreSQL database (issue 16): enqueue, claim
/// in batches, and complete or fail fenced by attempt.
///
/// Every call is one round trip (a libpq pipeline, one implicit transaction) and a fixed handful
/// of statements whatever the batch size: rows travel as one JSON parameter. Each transaction
/// first turns sequential scans off for itself (`set_config(..., true)`, which ends with the
/// transaction and so also works behind PgBouncer in transaction mode): a queue table grown fast
/// from empty has statistics that say "tiny", and the planner would otherwise scan it whole for
/// every claim and completion (the plan cliff pgqueuer and procrastinate fall off). Plain and
/// index-only scans are off too, so that a table is read only through an index condition (a
/// bitmap scan): told "one row", the planner read the whole primary key of a 20,000-task backlog
/// for a batch of ids, or hashed it, rather than look each id up. Claims, which read the queue in
/// its index's order, turn plain index scans back on for themselves (`ordered`). It turns JIT
/// compilation off too: the disabled scans' made-up cost passes `jit_above_cost`, and compiling
/// each statement took 160–420 ms here, where running it takes well under one.
///
/// A claim takes queued rows with `FOR UPDATE SKIP LOCKED`, so brokers claiming at once never
/// wait for each other and never share a task; it sets the owner and adds one to `attempts`.
/// A report names the attempt it answers and is refused unless that attempt is the task's
/// current one and the task is still claimed: a broker presumed dead whose tasks were put back
/// (`BrokerLease.rescue`) cannot overwrite the outcome of the attempt that replaced its own.
/// Finished tasks move to `zerotask_results` in the same statement, so the hot table holds only
/// what may still run.
public final class PostgresQueue {
    /// The channel enqueues notify: its payload is the batch's methods, comma-separated.
    public static let channel = "zerotask_queue"

    /// A task to enqueue: its `TaskSpec` (the one list of a task's own fields) and what the
    /// broker gave it.
    public struct NewTask: Sendable, Equatable {
        public var id: String
        public var clientID: String
        public var spec: TaskSpec
        public var maxRetries: Int
        /// Seconds from now (the database's clock) before the task may be claimed.
        public var delay: Double?

        public init(id: String, clientID: String, spec: TaskSpec, maxRetries: Int = 0, delay: Double? = nil) {
            self.id = id
            self.clientID = clientID
            self.spec = spec
            self.maxRetries = maxRetries
            self.delay = delay
        }

        public init(id: String, clientID: String, method: String, params: JSONValue, priority: Int64 = 0,
                    timeout: Double? = nil, maxRetries: Int = 0, resultTTL: Double? = nil, delay: Double? = nil) {
            self.init(id: id, clientID: clientID,
                      spec: TaskSpec(method: method, params: params, priority: priority, timeout: timeout, resultTTL: resultTTL),
                      maxRetries: maxRetries, delay: delay)
        }

        public var priority: Int64 {
            get { spec.priority }
            set { spec.priority = newValue }
        }
    }

    /// A claimed task: what a node needs, and the attempt its report must name.
    public struct Claim: Sendable, Equatable {
        public var id: String
        public var clientID: String
        /// As enqueued (the claim does not read `result_ttl`, which only matters once it is done).
        public var spec: TaskSpec
        public var sequence: Int64
        public var maxRetries: Int
        public var attempt: Int

        public var method: String { spec.method }
        public var params: JSONValue { spec.params }
        public var priority: Int64 { spec.priority }
    }

    /// A node's report on one attempt.
    public struct Report: Sendable {
        public var id: String
        public var attempt: Int
        public var outcome: Outcome

        public init(id: String, attempt: Int, outcome: Outcome) {
            self.id = id
            self.attempt = attempt
            self.outcome = outcome
        }
    }

    public enum Outcome: Sendable {
        case finished(JSONValue)
        case failed(RPCError)
    }

    /// The broker this queue claims for (the `owner` of its claims).
    public let brokerID: String
    let connection: PostgresConnection
    public var description: String { connection.name }

    /// Connects and brings the schema up to date.
    /// - Parameter prepares: prepare statements once per session (off behind a transaction-mode pooler).
    public init(url: String, password: String? = nil, brokerID: String, prepares: Bool = true) throws(StoreError) {
        self.brokerID = brokerID
        connection = try PostgresConnection(url: url, password: password)
        connection.prepares = prepares
        try PostgresSchema.migrate(connection)
    }

    public func close() { connection.close() }

    /// What every transaction of the queue runs first (see the type's comment).
    static let planSettings = PostgresConnection.Statement("""
        SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true),
            set_config('enable_indexonlyscan', 'off', true), set_config('jit', 'off', true)
        """)
    private static let indexOrderOn = PostgresConnection.Statement("SELECT set_config('enable_indexscan', 'on', true)")
    private static let indexOrderOff = PostgresConnection.Statement("SELECT set_config('enable_indexscan', 'off', true)")

    /// A statement that reads the queue in an index's order (a claim's `ORDER BY … LIMIT`), with
    /// plain index scans on for it alone; its rows are the second of the three results.
    static func ordered(_ statement: PostgresConnection.Statement) -> [PostgresConnection.Statement] {
        [indexOrderOn, statement, indexOrderOff]
    }

    /// Runs `statements` as one transaction under `planSettings`; returns their rows.
    func transaction(_ statements: [PostgresConnection.Statement]) throws(StoreError) -> [[[String?]]] {
        if !connection.isHealthy { try connection.reconnect() }
        return Array(try connection.pipeline([Self.planSettings] + statements).dropFirst())
    }

    // MARK: Enqueue

    static let enqueueSQL = """
        INSERT INTO zerotask_tasks (id, client_id, method, params, priority, sequence, timeout, max_retries,
            result_ttl, attempts, status, created, not_before)
        SELECT x.id, x.client_id, x.method, x.params::json, x.priority, nextval('zerotask_task_sequence'), x.timeout,
            x.max_retries, x.result_ttl, 0, \(TaskStatusCode.queued), extract(epoch FROM now()),
            CASE WHEN x.delay IS NULL THEN NULL ELSE now() + make_interval(secs => x.delay) END
        FROM json_to_recordset($1::json) AS x(id text, client_id text, method text, params text, priority bigint,
            timeout double precision, max_retries integer, result_ttl double precision, delay double precision)
        WHERE NOT EXISTS (SELECT 1 FROM zerotask_results r WHERE r.id = x.id)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """

    /// Enqueues the tasks in one commit with one NOTIFY. Idempotent by task id: a task already
    /// queued, running or finished is left as it is (a resent submission). Returns the ids that
    /// were new.
    @discardableResult
    public func enqueue(_ tasks: [NewTask]) throws(StoreError) -> Set<String> {
        guard !tasks.isEmpty else { return [] }
        let rows = JSONValue.array(tasks.map { t in
            var o: JSONObject = [
                "id": .string(t.id), "client_id": .string(t.clientID), "method": .string(t.spec.method),
                "params": .string(t.spec.params.jsonString), "priority": .int(t.spec.priority), "max_retries": .int(Int64(t.maxRetries)),
            ]
            if let v = t.spec.timeout { o["timeout"] = .double(v) }
            if let v = t.spec.resultTTL { o["result_ttl"] = .double(v) }
            if let v = t.delay { o["delay"] = .double(v) }
            return .object(o)
        })
        // One pg_notify per commit, whatever the batch (a NOTIFY per task serialises commits on
        // the server's notification queue); its payload lets a listener skip methods it lacks.
        let methods = Set(tasks.map(\.spec.method)).sorted().joined(separator: ",")
        let out = try transaction([
            .init(Self.enqueueSQL, [rows.jsonString]),
            .init("SELECT pg_notify($1, $2)", [Self.channel, methods]),
        ])
        return Set(out[0].compactMap { $0.first ?? nil })
    }

    // MARK: Claim

    /// A claim's first step: up to `$2` queued tasks of the methods `$1` names, best first,
    /// skipping rows another transaction holds and locking the rest (`FOR UPDATE SKIP LOCKED`).
    /// Each method's queue is read on its own, in the claim index's order, so that the first
    /// rows are the best whatever the backlog (with `method = ANY(…)` the planner sorted every
    /// queued task of the methods for each claim). The picked ids are kept in a
    /// transaction-local setting for the second step, which looks each up by id.
    static let pickSQL = """
        SELECT set_config('zerotask.picked', coalesce(json_agg(p.id), '[]'::json)::text, true) FROM (
            SELECT c.id FROM json_array_elements_text($1::json) AS m(method)
            CROSS JOIN LATERAL (
                SELECT id, priority, sequence FROM zerotask_tasks
                WHERE status = \(TaskStatusCode.queued) AND method = m.method
                    AND (not_before IS NULL OR not_before <= now())
                ORDER BY priority DESC, sequence
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            ) c
            ORDER BY c.priority DESC, c.sequence
            LIMIT $2
        ) p
        """

    /// A claim's second step: the picked tasks become this broker's (`$1`), and the claim adds
    /// one to `attempts`, the fence of every later write.
    static func claimSQL(returning columns: String) -> String {
        """
        UPDATE zerotask_tasks t
        SET status = \(TaskStatusCode.assigned), owner = $1, attempts = t.attempts + 1, claimed_at = now()
        FROM json_array_elements_text(coalesce(current_setting('zerotask.picked', true), '[]')::json) AS p(id)
        WHERE t.id = p.id
        RETURNING \(columns)
        """
    }

    static let claimSQL = claimSQL(returning: "t.id, t.client_id, t.method, t.params, t.priority, t.sequence, t.timeout, t.max_retries, t.attempts")

    /// A claim's statements for one transaction, the pick with plain index scans on for it alone
    /// (`planSettings`); the claimed rows are the last statement's.
    static func claim(methods: Set<String>, limit: Int, brokerID: String, update: String) -> [PostgresConnection.Statement] {
        let names = JSONValue.array(methods.sorted().map { .string($0) }).jsonString
        return ordered(.init(pickSQL, [names, String(limit)])) + [.init(update, [brokerID])]
    }

    /// Claims up to `limit` queued tasks of `methods`, highest priority first, then oldest.
    /// Rows another transaction holds are skipped, not waited for.
    public func claim(methods: Set<String>, limit: Int) throws(StoreError) -> [Claim] {
        guard !methods.isEmpty, limit > 0 else { return [] }
        let rows = try transaction(Self.claim(methods: methods, limit: limit, brokerID: brokerID, update: Self.claimSQL)).last ?? []
        var claims: [Claim] = []
        claims.reserveCapacity(rows.count)
        for r in rows {
            let id = r[0] ?? ""
            let params: JSONValue
            do { params = try JSONValue.parse(Array((r[3] ?? "[]").utf8)) } catch {
                throw StoreError(store: description, reason: "task \(id): unreadable JSON in params: \(error)")
            }
            let spec = TaskSpec(method: r[2] ?? "", params: params, priority: r[4].flatMap { Int64($0) } ?? 0,
                                timeout: r[6].flatMap { Double($0) })
            claims.append(Claim(
                id: id, clientID: r[1] ?? "", spec: spec, sequence: r[5].flatMap { Int64($0) } ?? 0,
                maxRetries: r[7].flatMap { Int($0) } ?? 0, attempt: r[8].flatMap { Int($0) } ?? 0))
        }
        // RETURNING keeps no order; the claim's order is the queue's.
        return claims.sorted { $0.priority != $1.priority ? $0.priority > $1.priority : $0.sequence < $1.sequence }
    }

    // MARK: Complete

    /// The v1 columns, which both task tables share.
    private static let resultColumns = PostgresSchema.columns.map(\.name)

    static let completeSQL: String = {
        let names = resultColumns.joined(separator: ", ")
        // The new status, result, error and finish time come from the report; the rest as it was.
        let values = resultColumns.map { c -> String in
            switch c {
            case "status": "x.status"
            case "result": "x.result::json"
            case "error": "x.error::json"
            case "finished": "extract(epoch FROM now())"
            default: "t.\(c)"
            }
        }
        return """
            WITH report AS (
                SELECT * FROM json_to_recordset($1::json) AS x(id text, attempt integer, status integer, result text, error text)
            ), done AS (
                DELETE FROM zerotask_tasks t USING report x
                WHERE t.id = x.id AND t.attempts = x.attempt
                    AND t.status IN (\(TaskStatusCode.assigned), \(TaskStatusCode.running))
                RETURNING \(values.joined(separator: ", "))
            )
            INSERT INTO zerotask_results (\(names)) SELECT * FROM done
            RETURNING id
            """
    }()

    /// Records the reports' outcomes and moves those tasks to the results table. A report is
    /// accepted only for the task's current attempt while it is still claimed; the rest (a late
    /// report of an attempt that was put back, or answered already) change nothing. Returns the
    /// ids accepted.
    @discardableResult
    public func complete(_ reports: [Report]) throws(StoreError) -> Set<String> {
        guard !reports.isEmpty else { return [] }
        let rows = JSONValue.array(reports.map { r in
            var o: JSONObject = ["id": .string(r.id), "attempt": .int(Int64(r.attempt))]
            switch r.outcome {
            case .finished(let v):
                o["status"] = .int(TaskStatus.finished.rawValue)
                o["result"] = .string(v.jsonString)
            case .failed(let e):
                o["status"] = .int(TaskStatus.failed.rawValue)
                o["error"] = .string(e.json.jsonString)
            }
            return .object(o)
        })
        let out = try transaction([.init(Self.completeSQL, [rows.jsonString])])
        return Set(out[0].compactMap { $0.first ?? nil })
    }

    /// Puts this broker's claims back in the queue (a clean stop, or its nodes went away), fenced
    /// like a report: only the named attempts. Returns the ids put back.
    @discardableResult
    public func release(_ claims: [(id: String, attempt: Int)]) throws(StoreError) -> Set<String> {
        guard !claims.isEmpty else { return [] }
        let rows = JSONValue.array(claims.map { .object(["id": .string($0.id), "attempt": .int(Int64($0.attempt))]) })
        let out = try transaction([
            .init("""
                UPDATE zerotask_tasks t SET status = \(TaskStatusCode.queued), owner = NULL, claimed_at = NULL
                FROM json_to_recordset($1::json) AS x(id text, attempt integer)
                WHERE t.id = x.id AND t.attempts = x.attempt AND t.owner = $2
                    AND t.status IN (\(TaskStatusCode.assigned), \(TaskStatusCode.running))
                RETURNING t.id
                """, [rows.jsonString, brokerID]),
            .init("SELECT pg_notify($1, '')", [Self.channel]),
        ])
        return Set(out[0].compactMap { $0.first ?? nil })
    }

    /// The plan PostgreSQL chooses for `sql` under the queue's settings (tests and diagnostics).
    func plan(_ sql: String, _ params: [String?], ordered: Bool = false) throws(StoreError) -> String {
        let explain = PostgresConnection.Statement("EXPLAIN " + sql, params)
        let rows = ordered ? try transaction(Self.ordered(explain))[1] : try transaction([explain])[0]
        return rows.compactMap { $0.first ?? nil }.joined(separator: "\n")
    }
}
