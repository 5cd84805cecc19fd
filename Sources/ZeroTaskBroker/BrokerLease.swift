/// A broker's lease on its place in a shared PostgreSQL queue (issue 16).
///
/// Each broker renews a row in `zerotask_brokers` with the database's clock, so brokers' clocks
/// never need to agree. A broker whose row was not renewed for `timeout` seconds is dead: any
/// other broker's `rescue` deletes its row and puts its claimed, unfinished tasks back in the
/// queue in the same transaction (at-least-once: they run again elsewhere). The attempt fence
/// (`PostgresQueue.complete`) refuses whatever the dead broker reports later, and its next
/// `renew` tells it that it was presumed dead, so it drops the claims it still holds.
public final class BrokerLease {
    /// `broker_timeout`'s default: silent this long, a broker is dead.
    public static let defaultTimeout = 10.0

    public let brokerID: String
    public let timeout: Double
    private let queue: PostgresQueue
    private var renewedOnce = false

    /// Uses the queue's connection (one round trip per renewal, on the same thread).
    public init(queue: PostgresQueue, timeout: Double = BrokerLease.defaultTimeout) {
        self.queue = queue
        self.brokerID = queue.brokerID
        self.timeout = timeout
    }

    /// How often to renew: three renewals fit in a timeout, so one slow round trip is not death.
    public var renewInterval: Double { timeout / 3 }

    /// Renews the lease. Returns false when the row was gone although this broker had renewed it
    /// before: another broker presumed it dead and rescued its tasks, and every claim it holds
    /// is stale (their reports will be refused).
    @discardableResult
    public func renew() throws(StoreError) -> Bool {
        let rows = try queue.transaction([.init("""
            INSERT INTO zerotask_brokers (id, started_at, renewed_at) VALUES ($1, now(), now())
            ON CONFLICT (id) DO UPDATE SET renewed_at = now()
            RETURNING (xmax = 0)
            """, [brokerID])])[0]
        let inserted = rows.first?.first == "t"
        defer { renewedOnce = true }
        return !(inserted && renewedOnce)
    }

    static let rescueSQL = """
        WITH dead AS (
            DELETE FROM zerotask_brokers
            WHERE id <> $1 AND renewed_at < now() - make_interval(secs => $2)
            RETURNING id
        )
        UPDATE zerotask_tasks t SET status = \(TaskStatusCode.queued), owner = NULL, claimed_at = NULL
        FROM dead WHERE t.owner = dead.id
            AND t.status IN (\(TaskStatusCode.assigned), \(TaskStatusCode.running))
        RETURNING t.id, dead.id
        """

    /// Declares every broker silent for longer than `timeout` dead and puts its claimed,
    /// unfinished tasks back in the queue, with one NOTIFY so that brokers claim them at once.
    /// Returns the tasks put back. Brokers that rescue at once do not both rescue a task: the
    /// first deletes the lease row, the second finds it gone.
    @discardableResult
    public func rescue() throws(StoreError) -> [(task: String, broker: String)] {
        let rows = try queue.transaction([.init(Self.rescueSQL, [brokerID, String(timeout)])])[0]
        // Rare, so a second round trip: a NOTIFY only when something came back.
        if !rows.isEmpty { _ = try queue.transaction([.init("SELECT pg_notify($1, '')", [PostgresQueue.channel])]) }
        return rows.map { (task: $0[0] ?? "", broker: $0[1] ?? "") }
    }

    /// Leaves cleanly: the row goes, and this broker's unfinished claims go back in the queue.
    public func resign() throws(StoreError) {
        _ = try queue.transaction([
            .init("DELETE FROM zerotask_brokers WHERE id = $1", [brokerID]),
            .init("""
                UPDATE zerotask_tasks SET status = \(TaskStatusCode.queued), owner = NULL, claimed_at = NULL
                WHERE owner = $1 AND status IN (\(TaskStatusCode.assigned), \(TaskStatusCode.running))
                """, [brokerID]),
            .init("SELECT pg_notify($1, '')", [PostgresQueue.channel]),
        ])
    }
}
