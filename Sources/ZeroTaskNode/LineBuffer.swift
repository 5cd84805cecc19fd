#if canImport(Glibc)
import Glibc
#endif

/// Splits what a worker prints (its stdout or stderr pipe) into lines for the node's log.
struct LineBuffer {
    private var pending: [UInt8] = []
    /// Longer lines are cut, so a plugin printing without newlines cannot grow the node.
    static let maxLine = 8192

    /// Reads from `fd`; returns complete lines, and whether the pipe reached end of file.
    mutating func read(_ fd: Int32) -> (lines: [String], eof: Bool) {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let r = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if r < 0 { return ([], errno != EINTR && errno != EAGAIN) }
        if r == 0 { return (flush(), true) }
        var lines: [String] = []
        for b in chunk[0..<r] {
            if b == 0x0A {
                lines.append(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(b)
                if pending.count >= Self.maxLine {
                    lines.append(String(decoding: pending, as: UTF8.self) + "…")
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
        return (lines, false)
    }

    mutating func flush() -> [String] {
        defer { pending.removeAll() }
        return pending.isEmpty ? [] : [String(decoding: pending, as: UTF8.self)]
    }
}
