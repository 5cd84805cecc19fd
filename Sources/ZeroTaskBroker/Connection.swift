/// The connection a request came on, as the broker tells connections apart: the ROUTER's
/// routing identity and, with CURVE keys, the key that opened it. A node id or client id belongs
/// to the connection that registered it (docs/IDENTITY.md).
struct Connection: Sendable, Hashable {
    /// The ROUTER routing identity; empty for the built-in broker's node (served by call) and
    /// for records restored from the store, which have no connection yet.
    var peer: [UInt8]
    /// Who the CURVE key says the peer is; nil without keys.
    var key: PeerIdentity?

    /// No connection: a client or node remembered from the store.
    static let none = Connection(peer: [], key: nil)
}
