import CZeroMQ

/// Waits on several sockets at once with `zmq_poll`. Blocking: call it only from a thread of
/// its own, never from Swift's cooperative pool.
public struct ZMQPoller {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
    }

    private var sockets: [ZMQSocket] = []
    private var items: [zmq_pollitem_t] = []

    public init() {}

    /// Adds a socket; returns its index for `poll`'s result.
    @discardableResult
    public mutating func add(_ socket: ZMQSocket, _ events: Events = .readable) -> Int {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: socket.raw, fd: 0, events: events.rawValue, revents: 0))
        return items.count - 1
    }

    /// Adds a plain file descriptor (a pipe, a socketpair); returns its index for `poll`'s result.
    @discardableResult
    public mutating func add(fd: Int32, _ events: Events = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fd, events: events.rawValue, revents: 0))
        return items.count - 1
    }

    /// Removes every socket and descriptor.
    public mutating func removeAll() {
        sockets.removeAll()
        items.removeAll()
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and returns the ready events per socket.
    public mutating func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [Events] {
        while true {
            let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), timeoutMilliseconds) }
            if rc >= 0 { break }
            let e = zt_errno()
            if e == EINTR { continue }
            throw ZMQError("zmq_poll", errno: e)
        }
        return items.map { Events(rawValue: $0.revents) }
    }
}
