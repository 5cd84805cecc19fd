import ZeroTaskProtocol

/// The nodes the broker knows: the registered ones by id, which connection registered which,
/// and the nodes dropped for silence, kept by connection so that their next request there
/// registers them again (docs/IDENTITY.md).
struct NodeRegistry: Sendable {
    /// The most nodes dropped for silence that are remembered for re-admission at once
    /// (connections that vanish by the thousand must not grow it without end).
    static let maxSilent = 100_000

    private var records: [String: NodeRecord] = [:]
    /// Which node registered on which peer (the seed `node_task_request(task_id)` form).
    private var byPeer: [[UInt8]: String] = [:]
    /// Nodes dropped for silence, by the peer they spoke from (a seed node never heartbeats,
    /// yet is not dead).
    private var silentByPeer: [[UInt8]: NodeRecord] = [:]

    subscript(id: String) -> NodeRecord? { records[id] }
    var count: Int { records.count }
    var isEmpty: Bool { records.isEmpty }
    /// The registered nodes, in no particular order.
    var all: Dictionary<String, NodeRecord>.Values { records.values }
    /// Nodes dropped for silence and not registered again since.
    var silent: [NodeRecord] { silentByPeer.values.filter { records[$0.id] == nil } }

    /// Changes a registered node in place; nil (and nothing done) when `id` is not registered.
    @discardableResult
    mutating func update<R>(_ id: String, _ change: (inout NodeRecord) -> R) -> R? {
        guard records[id] != nil else { return nil }
        return change(&records[id]!)
    }

    /// The node registered on this peer (the seed spec's implicit node id), or the one dropped
    /// for silence there (`touch` registers it again).
    func nodeID(forPeer peer: [UInt8]) throws(BrokerError) -> String {
        if byPeer[peer] == nil, let silent = silentByPeer[peer] { return silent.id }
        guard let id = byPeer[peer], records[id] != nil else {
            throw BrokerError.noNodeOnConnection
        }
        return id
    }

    /// Another node this connection registered before, which registering `id` on it replaces.
    func replaced(by id: String, on connection: Connection) -> String? {
        guard let old = byPeer[connection.peer], old != id, records[old]?.connection == connection else { return nil }
        return old
    }

    /// Moves a registered node to a new connection of the same key (with keys, the key is the
    /// node's identity; its routing id is libzmq's, new on every connection).
    mutating func move(_ id: String, to connection: Connection) {
        guard let old = records[id]?.connection else { return }
        if byPeer[old.peer] == id { byPeer[old.peer] = nil }
        records[id]?.connection = connection
        byPeer[connection.peer] = id
    }

    /// Registers `id` on `connection` as a node joining (or, remembered from the store, taking
    /// back the tasks it was running) and returns its record.
    mutating func admit(_ id: String, on connection: Connection, methods: [String: JSONValue]?, workers: Int?, now: MonotonicInstant,
        connectedAt: WallInstant, confirmWithin: Double) -> NodeRecord
    {
        var record = records[id] ?? NodeRecord(id: id, connection: connection, lastSeen: now, connectedAt: connectedAt)
        record.connection = connection
        record.lastSeen = now
        record.connectedAt = connectedAt
        record.awaitingReconnect = false
        if !record.unconfirmed.isEmpty { record.confirmBy = now + confirmWithin }
        record.methods = methods ?? [:]
        record.servesAny = methods == nil
        record.workers = workers ?? 0
        records[id] = record
        byPeer[connection.peer] = id
        return record
    }

    /// Registered anew on `peer`: what was remembered of a silent node there, or under `id` on
    /// another peer, is superseded (that connection no longer speaks for the id).
    mutating func forgetSilent(_ id: String, peer: [UInt8]) {
        silentByPeer[peer] = nil
        if !silentByPeer.isEmpty { silentByPeer = silentByPeer.filter { $0.value.id != id } }
    }

    /// Forgets the silent nodes last heard from longer than `ttl` ago.
    mutating func forgetSilent(olderThan ttl: Double, now: MonotonicInstant) {
        if !silentByPeer.isEmpty { silentByPeer = silentByPeer.filter { now - $0.value.lastSeen <= ttl } }
    }

    /// Checks that `id` is registered by `connection` and records its activity: every node
    /// method speaks for the node only from the connection (and key) that registered it. A node
    /// dropped for silence that speaks again from that connection is registered again first.
    mutating func touch(_ id: String, connection: Connection, now: MonotonicInstant, connectedAt: @autoclosure () -> WallInstant) throws(BrokerError) {
        if records[id] == nil { readmitSilent(id, connection: connection, now: now, connectedAt: connectedAt()) }
        guard let node = records[id] else {
            throw BrokerError.node(id: id, why: Identifier.isValidID(id) ? "unknown (call node_connect first)" : "not a valid id")
        }
        // -32030 makes the node register again, which is what a restarted broker needs from it.
        guard !node.awaitingReconnect else { throw BrokerError.node(id: id, why: "unknown since the broker restarted (call node_connect again)") }
        guard node.connection == connection else {
            throw BrokerError.node(id: id, why: "registered by another connection; only that one speaks for it")
        }
        records[id]?.lastSeen = now
    }

    /// Registers again the node dropped for silence on `connection`, if it is `id` and nobody
    /// took the id meanwhile. Its tasks were queued again when it was dropped; it starts empty,
    /// with the methods and workers it had declared. A late result it still delivers is
    /// accepted (see `BrokerState.report`): the first result stands.
    private mutating func readmitSilent(_ id: String, connection: Connection, now: MonotonicInstant, connectedAt: WallInstant) {
        let peer = connection.peer
        guard var record = silentByPeer[peer], record.id == id, record.connection == connection, records[id] == nil,
            byPeer[peer] == nil
        else { return }
        silentByPeer[peer] = nil
        record.lastSeen = now
        record.connectedAt = connectedAt
        records[id] = record
        byPeer[peer] = id
    }

    /// Forgets a node and returns what it was.
    /// - Parameter keepingSilent: dropped for silence, not by its own word: kept aside (without
    ///   its tasks) so that its next request from the same connection registers it again.
    mutating func remove(_ id: String, keepingSilent: Bool) -> NodeRecord? {
        guard let node = records.removeValue(forKey: id) else { return nil }
        if byPeer[node.peer] == id { byPeer[node.peer] = nil }
        if keepingSilent, !node.peer.isEmpty, silentByPeer.count < Self.maxSilent {
            var kept = node
            kept.assigned = []
            kept.unconfirmed = []
            kept.missing = []
            kept.status = JSONObject()
            silentByPeer[node.peer] = kept
        }
        return node
    }

    /// Records that `nodeID` runs `taskID`.
    mutating func assign(_ taskID: String, to nodeID: String) {
        records[nodeID]?.assigned.insert(taskID)
    }

    /// Frees the slot `taskID` held on `nodeID`, if any.
    mutating func unassign(_ taskID: String, from nodeID: String?) {
        guard let nodeID else { return }
        records[nodeID]?.assigned.remove(taskID)
        records[nodeID]?.unconfirmed.remove(taskID)
    }

    /// The store says `nodeID` runs `taskID`: the node is remembered, awaiting reconnection,
    /// until it confirms the task (see `BrokerState.restore`).
    mutating func restoreAssignment(_ taskID: String, to nodeID: String, now: MonotonicInstant, connectedAt: WallInstant) {
        if records[nodeID] == nil {
            var node = NodeRecord(id: nodeID, connection: .none, lastSeen: now, connectedAt: connectedAt)
            node.awaitingReconnect = true
            records[nodeID] = node
        }
        records[nodeID]?.assigned.insert(taskID)
        records[nodeID]?.unconfirmed.insert(taskID)
    }

    /// Takes from `nodeID` the tasks it has not confirmed since the restart (see
    /// `NodeRecord.unconfirmed`), to be queued again.
    mutating func takeUnconfirmed(_ nodeID: String) -> Set<String> {
        guard let lost = records[nodeID]?.unconfirmed else { return [] }
        records[nodeID]?.unconfirmed = []
        records[nodeID]?.assigned.subtract(lost)
        return lost
    }
}

struct NodeRecord: Sendable {
    let id: String
    /// The connection that registered the node: the only one that may speak for it.
    var connection: Connection
    var peer: [UInt8] { connection.peer }
    var lastSeen: MonotonicInstant
    /// Method name → description as the node advertised it (an object with at least "name").
    var methods: [String: JSONValue] = [:]
    /// Registered without a `methods` list (the seed form): it may claim any task it asks for.
    var servesAny = false
    /// Method name → why the node cannot serve it (a quarantined plugin): `{name, plugin, file, reason}`.
    var unavailable: [String: JSONValue] = [:]
    /// What the node says it is (`--tags gpu,eu`): it gets only tasks whose tags it all has.
    var tags: Set<String> = []
    /// Declared worker count; 0 means unknown (no capacity limit enforced, except 1 for a seed node).
    var workers = 0
    var assigned: Set<String> = []
    var status = JSONObject()
    var connectedAt: WallInstant
    /// Remembered from the store after a restart because tasks are assigned to it: it holds
    /// them for `node_timeout` until the node connects again, and answers nothing else meanwhile.
    var awaitingReconnect = false
    /// Tasks the store says this node runs that it has not confirmed since the restart (by
    /// reporting them or listing them in `node_check_tasks`): the reply assigning them may
    /// have died with the old broker. Those left at `confirmBy` are queued again.
    var unconfirmed: Set<String> = []
    var confirmBy = MonotonicInstant.distantFuture
    /// Assigned tasks the node's last complete `node_check_tasks` list did not name: missing
    /// from the next one too, they are queued again (the assignment never reached the node).
    var missing: Set<String> = []

    /// Tasks the node takes at once when it prefetches for fast methods (0: as many as workers).
    var capacity = 0

    var freeSlots: Int {
        // A seed node that declared no workers runs one task at a time: the seed spec's node
        // is one REQ socket, and without a limit it would claim every task it hears of.
        let slots = max(workers, capacity, servesAny ? 1 : 0)
        return slots > 0 ? max(0, slots - assigned.count) : Int.max
    }

    /// The same connection registering again (or a restarted node with the same id and routing
    /// id): it must confirm the tasks it holds within `confirmWithin` (`node_timeout`), by
    /// reporting them or naming them in `node_check_tasks`; the others are queued again.
    mutating func registerAgain(methods: [String: JSONValue]?, workers: Int?, now: MonotonicInstant, confirmWithin: Double) {
        lastSeen = now
        unconfirmed = assigned
        if !assigned.isEmpty { confirmBy = now + confirmWithin }
        if let methods { advertise(methods) }
        if let workers { self.workers = workers }
    }

    /// The methods the node serves now (it no longer claims any method it hears of).
    mutating func advertise(_ methods: [String: JSONValue]) {
        self.methods = methods
        servesAny = false
    }

    /// What the node says of itself (`node_status`); a `workers` count in it is its new one.
    mutating func setStatus(_ fields: JSONObject) {
        status = fields
        if let w = fields["workers"]?.int64Value, w >= 0 { workers = Int(w) }
    }

    /// The node named every task it holds (`node_check_tasks` with `complete`): an assigned
    /// task missing from two lists in a row never reached it (a lost reply). Returns those,
    /// no longer assigned to it.
    mutating func takeUnlisted(_ listed: Set<String>) -> Set<String> {
        let unlisted = assigned.subtracting(listed)
        let lost = unlisted.intersection(missing)
        missing = unlisted.subtracting(lost)
        assigned.subtract(lost)
        unconfirmed.subtract(lost)
        return lost
    }
}
