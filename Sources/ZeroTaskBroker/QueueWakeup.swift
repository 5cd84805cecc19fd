import ZeroTaskProtocol

/// When a broker on a shared PostgreSQL queue should look for work: at once when another
/// broker's commit notifies (`LISTEN` on a connection of its own, whose socket the broker's
/// `zmq_poll` loop polls as a plain fd), and in any case at least every `pollInterval`.
///
/// The polling is what makes it work without notifications: behind PgBouncer in transaction
/// mode `LISTEN` does not survive the transaction (sessions are pooled), so `listening: false`
/// skips it and the broker claims on its timer alone, at most `pollInterval` late. A lost
/// connection costs notifications, never tasks, for the same reason.
public final class QueueWakeup {
    public static let defaultPollInterval = 1.0

    public let pollInterval: Double
    private let connection: PostgresConnection?
    private var lastLook = MonotonicInstant.distantPast

    /// - Parameter listening: false behind a transaction-mode pooler (poll only).
    public init(url: String, password: String? = nil, listening: Bool = true,
                pollInterval: Double = QueueWakeup.defaultPollInterval) throws(StoreError) {
        self.pollInterval = pollInterval
        guard listening else {
            connection = nil
            return
        }
        let c = try PostgresConnection(url: url, password: password)
        try c.execute("LISTEN \(PostgresQueue.channel)")
        connection = c
    }

    /// The socket to poll for readability; nil when not listening.
    public var fileDescriptor: Int32? { connection.map(\.socket) }

    /// What woke the broker: the methods notifications named (empty payload: any method), and
    /// whether the poll timer is due. Call when the fd is readable or the loop times out;
    /// `now` is monotonic seconds.
    public struct Look: Equatable {
        public var methods: Set<String> = []
        public var anyMethod = false
        public var notifications = 0
        public var timerDue = false
        /// Some commit wrote results (read back the tasks this broker watches).
        public var results = false
        /// Whether to claim now (for `methods`, or for every method when `anyMethod` or `timerDue`).
        public var shouldClaim: Bool { notifications > 0 || timerDue }
    }

    /// A payload's methods part that stands for every method (tasks were handed back or
    /// rescued, or too many methods to name).
    public static let anyMethod = "*"
    /// Appended to a payload when the commit wrote results: brokers watching tasks read back.
    public static let resultsFlag = ";results"

    /// - Parameter ownPID: the server process of this broker's own commits: what they notify is
    ///   not news to it.
    public func look(now: MonotonicInstant, ownPID: Int32 = 0) throws(StoreError) -> Look {
        var look = Look()
        if let c = connection {
            if !c.isHealthy {
                // Notifications sent while away are lost; the timer covers them.
                try c.reconnect()
                try c.execute("LISTEN \(PostgresQueue.channel)")
            }
            for n in try c.notifications() where ownPID == 0 || n.senderPID != ownPID {
                look.notifications += 1
                // "m1,m2", "*" or "" (any method), each maybe followed by ";results".
                var methods = Substring(n.payload)
                if methods.hasSuffix(Self.resultsFlag) {
                    look.results = true
                    methods = methods.dropLast(Self.resultsFlag.count)
                    if methods.isEmpty { continue }
                }
                if methods.isEmpty || methods == Self.anyMethod { look.anyMethod = true }
                for m in methods.split(separator: ",") where m != Self.anyMethod { look.methods.insert(String(m)) }
            }
        }
        if now - lastLook >= pollInterval {
            look.timerDue = true
        }
        if look.shouldClaim { lastLook = now }
        return look
    }

    /// Milliseconds until the poll timer is due, for the loop's poll timeout.
    public func timeoutMilliseconds(now: MonotonicInstant) -> Int {
        max(0, Int(((lastLook + pollInterval) - now) * 1000))
    }

    public func close() { connection?.close() }
}
