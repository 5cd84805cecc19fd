import CZeroMQ

/// A libzmq context. Sockets keep their context alive, so it is terminated only after the last
/// socket is closed (`zmq_ctx_term` would block forever on an open socket).
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// - Parameter ioThreads: libzmq I/O threads; one is plenty below a few hundred MB/s.
    public init(ioThreads: Int32 = 1) {
        guard let h = zmq_ctx_new() else { fatalError("zmq_ctx_new failed: out of memory") }
        handle = h
        zmq_ctx_set(h, ZMQ_IO_THREADS, ioThreads)
        // Sockets are created and closed often in tests and clients; keep the default cap generous.
        zmq_ctx_set(h, ZMQ_MAX_SOCKETS, 4096)
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zt_errno() == EINTR {}
    }

    /// The version of the linked libzmq, e.g. "4.3.4".
    public static var version: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
