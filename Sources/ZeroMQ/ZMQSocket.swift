import CZeroMQ

/// The socket types ZeroTask uses.
public enum ZMQSocketType: Sendable {
    case req, rep, dealer, router, pub, sub, pair, push, pull
    /// A PUB that also delivers its subscribers' (un)subscriptions as messages.
    case xpub

    var raw: Int32 {
        switch self {
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .pair: ZMQ_PAIR
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .xpub: ZMQ_XPUB
        }
    }
}

/// A libzmq socket. Like libzmq's own sockets it is not thread-safe: one thread uses it at a time.
/// It is `@unchecked Sendable` so that it can be handed to the thread that owns it.
public final class ZMQSocket: @unchecked Sendable {
    public let context: ZMQContext
    public let type: ZMQSocketType
    private var handle: UnsafeMutableRawPointer?
    /// One message structure reused for every receive; it must not move while in use.
    let message: UnsafeMutablePointer<zmq_msg_t>

    public init(_ context: ZMQContext, _ type: ZMQSocketType) throws(ZMQError) {
        guard let h = zmq_socket(context.handle, type.raw) else { throw ZMQError("zmq_socket") }
        self.context = context
        self.type = type
        handle = h
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
        // Never hang at close on unsent messages, but give queued replies a bounded chance to leave.
        try setOption(ZMQ_LINGER, Int32(1000))
    }

    deinit {
        close()
        zmq_msg_close(message)
        message.deallocate()
    }

    var raw: UnsafeMutableRawPointer {
        guard let handle else { fatalError("use of a closed ZMQSocket") }
        return handle
    }

    /// Closes the socket; messages still queued get at most `lingerMilliseconds` to leave.
    public func close(lingerMilliseconds: Int32? = nil) {
        guard let h = handle else { return }
        if var linger = lingerMilliseconds {
            zmq_setsockopt(h, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        }
        zmq_close(h)
        handle = nil
    }

    public var isClosed: Bool { handle == nil }

    public func bind(_ endpoint: String) throws(ZMQError) {
        guard zmq_bind(raw, endpoint) == 0 else { throw ZMQError("bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        guard zmq_connect(raw, endpoint) == 0 else { throw ZMQError("connect \(endpoint)") }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        guard zmq_disconnect(raw, endpoint) == 0 else { throw ZMQError("disconnect \(endpoint)") }
    }

    /// The endpoint last bound, with a wildcard port resolved (e.g. `tcp://127.0.0.1:41235`).
    public var lastEndpoint: String? {
        var buf = [CChar](repeating: 0, count: 256)
        var size = buf.count
        guard zmq_getsockopt(raw, ZMQ_LAST_ENDPOINT, &buf, &size) == 0 else { return nil }
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Options

    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var v = value
        guard zmq_setsockopt(raw, option, &v, MemoryLayout<Int32>.size) == 0 else { throw ZMQError("setsockopt \(option)") }
    }

    public func setOption(_ option: Int32, _ value: Int64) throws(ZMQError) {
        var v = value
        guard zmq_setsockopt(raw, option, &v, MemoryLayout<Int64>.size) == 0 else { throw ZMQError("setsockopt \(option)") }
    }

    public func setOption(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(raw, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError("setsockopt \(option)") }
    }

    public func getInt32(_ option: Int32) throws(ZMQError) -> Int32 {
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard zmq_getsockopt(raw, option, &v, &size) == 0 else { throw ZMQError("getsockopt \(option)") }
        return v
    }

    /// Milliseconds that unsent messages may wait at close.
    public func setLinger(milliseconds: Int32) throws(ZMQError) { try setOption(ZMQ_LINGER, milliseconds) }
    /// High-water marks: how many messages are queued per peer before sends block or drop.
    public func setHighWaterMarks(send: Int32, receive: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, send)
        try setOption(ZMQ_RCVHWM, receive)
    }
    /// A peer that sends a larger message is disconnected by libzmq.
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) { try setOption(ZMQ_MAXMSGSIZE, bytes) }
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) { try setOption(ZMQ_ROUTING_ID, bytes: id) }
    public func subscribe(_ prefix: [UInt8]) throws(ZMQError) { try setOption(ZMQ_SUBSCRIBE, bytes: prefix) }
    public func subscribe(_ prefix: String) throws(ZMQError) { try subscribe(Array(prefix.utf8)) }
    public func unsubscribe(_ prefix: String) throws(ZMQError) { try setOption(ZMQ_UNSUBSCRIBE, bytes: Array(prefix.utf8)) }
    /// Reconnect after a lost connection, starting at `ms` and backing off to `max`.
    public func setReconnectInterval(_ ms: Int32, max: Int32) throws(ZMQError) {
        try setOption(ZMQ_RECONNECT_IVL, ms)
        try setOption(ZMQ_RECONNECT_IVL_MAX, max)
    }
    /// Queue messages only to completed connections (a DEALER then fails fast with no broker).
    public func setImmediate(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0)) }
    /// ZMTP heartbeats: detect a dead peer after `timeout` ms of silence.
    public func setHeartbeat(interval: Int32, timeout: Int32) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, interval)
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeout)
    }
    /// XPUB: pass on every subscribe and unsubscribe, repeats included, so they can be counted.
    public func setXPubVerboser(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_XPUB_VERBOSER, Int32(on ? 1 : 0)) }
    /// ROUTER: a new connection with a routing id already in use takes it over (reconnects).
    public func setRouterHandover(_ on: Bool) throws(ZMQError) { try setOption(ZMQ_ROUTER_HANDOVER, Int32(on ? 1 : 0)) }
}
