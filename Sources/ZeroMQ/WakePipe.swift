#if canImport(Glibc)
import Glibc
#endif

/// A pipe that wakes a poll loop from another thread (or a signal handler): the loop adds
/// `readFD` to its `ZMQPoller`, others call `signal()`. Both ends are non-blocking and
/// close-on-exec, so no child process inherits them and a full pipe never blocks a writer.
public final class WakePipe: @unchecked Sendable {
    public let readFD: Int32
    /// Writing one byte here wakes the loop; safe from a signal handler.
    public let writeFD: Int32

    public init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fatalError("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    /// Wakes the loop (a full pipe already will). `value` (not 0) tells the loop why, when it
    /// has more than one reason to wake; the loop reads the largest with `drainLargest()`.
    public func signal(_ value: UInt8 = 1) {
        var b = value
        _ = write(writeFD, &b, 1)
    }

    /// Empties the pipe; returns whether anything was in it.
    @discardableResult
    public func drain() -> Bool { drainLargest() != 0 }

    /// Empties the pipe; returns the largest value signalled since the last drain (0: none).
    public func drainLargest() -> UInt8 {
        var buf = [UInt8](repeating: 0, count: 64)
        var largest: UInt8 = 0
        while true {
            let n = read(readFD, &buf, buf.count)
            guard n > 0 else { break }
            largest = max(largest, buf[..<n].max() ?? 0)
        }
        return largest
    }

    deinit {
        close(readFD)
        close(writeFD)
    }
}
