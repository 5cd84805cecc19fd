import CZeroMQ

/// A libzmq call failed: which call, and libzmq's errno and text.
public struct ZMQError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32

    public init(_ operation: String, errno: Int32 = zt_errno()) {
        self.operation = operation
        self.errno = errno
    }

    public var message: String { String(cString: zmq_strerror(errno)) }
    public var description: String { "\(operation): \(message)" }

    /// The call would have blocked (non-blocking send or receive).
    public var wouldBlock: Bool { errno == EAGAIN }
    /// The context was terminated.
    public var isTerminated: Bool { errno == ETERM }
    /// A ROUTER could not route to the peer (it is gone).
    public var isUnroutable: Bool { errno == EHOSTUNREACH }
}
