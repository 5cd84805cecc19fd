import ZeroTaskProtocol

/// The client ids the broker knows, each bound to the connection that holds it
/// (docs/IDENTITY.md): connecting, carrying on, disconnecting, forgetting idle ones.
struct ClientRegistry: Sendable {
    /// `client_timeout`: how long a silent connection still holds its client id.
    let timeout: Double
    private var records: [String: ClientRecord] = [:]

    init(timeout: Double) {
        self.timeout = timeout
    }

    subscript(id: String) -> ClientRecord? { records[id] }
    var count: Int { records.count }
    var isEmpty: Bool { records.isEmpty }
    var connectedCount: Int { records.values.reduce(0) { $0 + ($1.connected ? 1 : 0) } }

    /// Connects `id` on `connection`, or refuses it while another live connection holds it
    /// (see `ClientRecord.isHeld`). Returns whether what the store keeps of it changed.
    mutating func connect(_ id: String, connection: Connection, now: MonotonicInstant) throws(BrokerError) -> Bool {
        guard var record = records[id] else {
            records[id] = ClientRecord(id: id, connection: connection, lastSeen: now)
            return true
        }
        if record.isHeld(byOtherThan: connection, now: now, timeout: timeout) {
            throw BrokerError.client(id: id, why: "taken by another connection active \(Int(now - record.lastSeen)) s ago")
        }
        let changed = !record.connected
        record.connection = connection
        record.lastSeen = now
        record.connected = true
        records[id] = record
        return changed
    }

    /// Checks that `id` is connected and not held by another live connection, and records its
    /// activity (a connection may carry on with an id nobody else holds, such as one
    /// remembered from the store).
    mutating func touch(_ id: String, connection: Connection, now: MonotonicInstant) throws(BrokerError) {
        guard Identifier.isValidID(id) else { throw BrokerError.client(id: id, why: "not a valid id") }
        guard let client = records[id], client.connected else {
            throw BrokerError.client(id: id, why: records[id] == nil ? "unknown (call client_connect first)" : "disconnected")
        }
        guard !client.isHeld(byOtherThan: connection, now: now, timeout: timeout) else {
            throw BrokerError.client(id: id, why: "in use by another connection (active \(Int(now - client.lastSeen)) s ago)")
        }
        records[id]?.lastSeen = now
        records[id]?.connection = connection
    }

    /// Disconnects `id`, with the checks of `touch`.
    mutating func disconnect(_ id: String, connection: Connection, now: MonotonicInstant) throws(BrokerError) {
        try touch(id, connection: connection, now: now)
        records[id]?.connected = false
    }

    /// One more (`by: 1`) or one fewer (`by: -1`) task of the client not complete.
    mutating func countPending(_ id: String, by delta: Int) {
        records[id]?.pending += delta
    }

    /// A client the store kept, connected or not as it was, on no connection yet.
    mutating func restore(_ stored: StoredClient, now: MonotonicInstant) {
        var record = ClientRecord(id: stored.id, connection: .none, lastSeen: now)
        record.connected = stored.connected
        records[stored.id] = record
    }

    /// What the store keeps of `id`; nil once it is forgotten.
    func stored(_ id: String) -> StoredClient? {
        records[id].map { StoredClient(id: $0.id, connected: $0.connected) }
    }

    /// Forgets the clients with no pending task silent for longer than `ttl`; returns their ids.
    mutating func removeIdle(now: MonotonicInstant, ttl: Double) -> [String] {
        let idle = records.values.filter { $0.pending <= 0 && now - $0.lastSeen > ttl }.map(\.id)
        for id in idle { records[id] = nil }
        return idle
    }
}

struct ClientRecord: Sendable {
    let id: String
    /// The connection that holds the id (`Connection.none`: nobody since the broker restarted).
    var connection: Connection
    var lastSeen: MonotonicInstant
    var connected = true
    /// Its tasks not yet complete: a client with any is never forgotten for inactivity.
    var pending = 0

    /// Whether a connection other than `other` holds the id now: connected, with a connection,
    /// heard from within `timeout` (`client_timeout`). Such an id is not for `other` to use.
    func isHeld(byOtherThan other: Connection, now: MonotonicInstant, timeout: Double) -> Bool {
        connected && connection != other && connection != .none && now - lastSeen < timeout
    }
}
