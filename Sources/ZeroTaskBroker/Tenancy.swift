import ZeroTaskProtocol

/// Whose clients and tasks a caller may name, and how its ids read inside the broker.
///
/// With CURVE keys, a client key's name is its tenant: the broker keeps that tenant's client and
/// task ids as `TENANT:ID`, so two tenants may use the same client id and no tenant can name
/// another's tasks (they are "unknown" to it, -32020). The prefix is added to the ids a client
/// sends and taken off the ids it is told, so a client never sees it. An admin key uses the
/// broker's own ids and reads every client's tasks. Without keys there are no tenants.
struct Tenancy: Sendable {
    /// `TENANT:` for a client key; empty otherwise.
    let prefix: String
    /// An admin: any client's task is its to read, wait on and cancel.
    let seesAll: Bool

    static let none = Tenancy(prefix: "", seesAll: false)

    init(prefix: String, seesAll: Bool) {
        self.prefix = prefix
        self.seesAll = seesAll
    }

    /// The tenancy of a caller (nil: no keys).
    init(caller: PeerIdentity?) {
        guard let caller else {
            self = .none
            return
        }
        switch caller.role {
        case .client: self.init(prefix: caller.name + ":", seesAll: false)
        case .admin: self.init(prefix: "", seesAll: true)
        case .node: self = .none
        }
    }

    /// The broker's id for an id the caller named.
    func inside(_ id: String) -> String { prefix.isEmpty ? id : prefix + id }

    /// The caller's id for a broker id.
    func outside(_ id: String) -> String {
        prefix.isEmpty || !id.hasPrefix(prefix) ? id : String(id.utf8.dropFirst(prefix.utf8.count))!
    }

    /// Whether the caller may see a task of `owner` when it speaks as client `clientID`.
    func mayRead(taskOf owner: String, as clientID: String) -> Bool { seesAll || owner == clientID }

    /// A broker error as the caller may read it: the ids its message quotes lose the prefix.
    /// (Only the broker's own id errors quote ids; a task's error passes unchanged.)
    func outside(_ e: RPCError) -> RPCError {
        guard !prefix.isEmpty, Self.quotesIDs.contains(e.code) else { return e }
        return RPCError(code: e.code, message: e.message.replacing("\"" + prefix, with: "\""), data: e.data)
    }

    private static let quotesIDs: Set<Int64> = [ErrorCode.invalidClientID.rawValue, ErrorCode.invalidTaskID.rawValue]
}
