import CZeroMQ

extension ZMQSocket {
    /// Makes this socket a CURVE server with `keys`: every peer must handshake with CURVE and
    /// is authenticated by the context's ZAP handler under `domain` (bind a `ZAPHandler` first:
    /// with none, libzmq lets every key in).
    public func makeCurveServer(_ keys: CurveKeyPair, domain: String = "zerotask") throws(ZMQError) {
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(domain.utf8))
        // Fail closed: without a ZAP handler in the context (never started, or gone) libzmq
        // would let every key in; with this it refuses every handshake instead.
        try setOption(Self.zapEnforceDomain, Int32(1))
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
    }

    /// Makes this socket a CURVE client of the server whose public key is `serverKey`,
    /// authenticating with `keys`. Set before `connect`.
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
        guard Z85.isKey(serverKey) else { throw ZMQError("curve server key: not 40 Z85 characters", errno: EINVAL) }
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keys.publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.secretKey.utf8))
    }

    /// Whether this socket's security mechanism is CURVE.
    public var usesCurve: Bool { (try? getInt32(ZMQ_MECHANISM)) == ZMQ_CURVE }
}

extension ZMQSocket {
    /// `ZMQ_ZAP_ENFORCE_DOMAIN` (93): in zmq.h's draft section, yet honoured by libzmq 4.3's
    /// stable builds (Debian's included), which accept it and enforce ZAP with it.
    static let zapEnforceDomain: Int32 = 93
}
