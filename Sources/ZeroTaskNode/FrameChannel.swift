#if canImport(Glibc)
import Glibc
#endif
import ZeroTaskProtocol

/// Length-prefixed JSON frames over a stream file descriptor: the control channel between a
/// node and its workers. It never touches a worker's stdout or stderr, which belong to plugins.
///
/// A frame is a 4-byte little-endian length followed by that many bytes of compact JSON.
final class FrameChannel: @unchecked Sendable {
    let fd: Int32
    private var buffer: [UInt8] = []
    /// Where `read` puts bytes before they join `buffer`, allocated at the first read.
    private lazy var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    private var consumed = 0
    /// Frames larger than this are a protocol violation (the peer is broken).
    static let maxFrame = 512 << 20

    init(fd: Int32) { self.fd = fd }

    enum ChannelError: Error { case closed, tooLarge(Int), badJSON(String) }

    /// Frames queued by `enqueue`, written by the next `flush` or `send`; bytes before
    /// `written` have left already (a non-blocking descriptor took only part).
    private var outgoing: [UInt8] = []
    private var written = 0

    /// Whether queued bytes wait for the descriptor to take them (non-blocking ends only).
    var hasPendingOutput: Bool { written < outgoing.count }

    /// Writes one frame (and any queued before it): all of it on a blocking descriptor; on a
    /// non-blocking one, what it takes now (see `flush`).
    func send(_ value: JSONValue) throws(ChannelError) {
        enqueue(value)
        try flush()
    }

    /// Queues one frame for the next `flush`: frames for the same peer leave in one write.
    func enqueue(_ value: JSONValue) {
        let start = outgoing.count
        var w = JSONWriter(reusing: outgoing)
        outgoing = []
        w.writeRaw([0, 0, 0, 0])
        w.write(value)
        outgoing = w.bytes
        let n = UInt32(outgoing.count - start - 4)
        outgoing[start] = UInt8(n & 0xFF)
        outgoing[start + 1] = UInt8((n >> 8) & 0xFF)
        outgoing[start + 2] = UInt8((n >> 16) & 0xFF)
        outgoing[start + 3] = UInt8(n >> 24)
    }

    /// Writes the queued frames. A blocking descriptor takes them all; a non-blocking one may
    /// take part, and the rest waits for the next call (when poll says writable).
    /// - Returns: whether everything queued has been written.
    @discardableResult
    func flush() throws(ChannelError) -> Bool {
        while written < outgoing.count {
            let r = outgoing.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if r < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return false }
                outgoing.removeAll()
                written = 0
                throw .closed
            }
            written += r
        }
        outgoing.removeAll(keepingCapacity: outgoing.count <= 64 * 1024)
        written = 0
        return true
    }

    /// Reads what is available now (the fd may be blocking: call only when poll said readable).
    /// - Returns: the complete frames received; throws `.closed` at end of file.
    func receiveAvailable() throws(ChannelError) -> [JSONValue] {
        let r = readIntoBuffer()
        if r < 0 {
            if errno == EINTR || errno == EAGAIN { return [] }
            throw .closed
        }
        if r == 0 { throw .closed }
        return try drainFrames()
    }

    /// Blocks until one whole frame has arrived.
    func receive() throws(ChannelError) -> JSONValue {
        while true {
            if let frame = try nextFrame() { return frame }
            try readBlocking()
        }
    }

    /// Blocks until at least one whole frame has arrived; returns every complete frame received.
    func receiveSome() throws(ChannelError) -> [JSONValue] {
        while true {
            let frames = try drainFrames()
            if !frames.isEmpty { return frames }
            try readBlocking()
        }
    }

    private func readBlocking() throws(ChannelError) {
        while true {
            let r = readIntoBuffer()
            if r < 0 {
                if errno == EINTR { continue }
                throw .closed
            }
            if r == 0 { throw .closed }
            return
        }
    }

    /// One `read` of up to 64 KiB into the reused scratch chunk, appended to `buffer`; returns
    /// what `read` returned. (A fresh zero-filled chunk per read cost more than a small frame.)
    private func readIntoBuffer() -> Int {
        let r = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if r > 0 { buffer.append(contentsOf: chunk[0..<r]) }
        return r
    }

    private func drainFrames() throws(ChannelError) -> [JSONValue] {
        var frames: [JSONValue] = []
        while let f = try nextFrame() { frames.append(f) }
        return frames
    }

    private func nextFrame() throws(ChannelError) -> JSONValue? {
        let available = buffer.count - consumed
        guard available >= 4 else { compact(); return nil }
        let n = Int(buffer[consumed]) | Int(buffer[consumed + 1]) << 8 | Int(buffer[consumed + 2]) << 16
            | Int(buffer[consumed + 3]) << 24
        guard n <= Self.maxFrame else { throw .tooLarge(n) }
        guard available >= 4 + n else { compact(); return nil }
        let start = consumed + 4
        consumed = start + n
        let value: JSONValue
        do {
            value = try buffer.withUnsafeBytes { try JSONValue.parse(UnsafeRawBufferPointer(rebasing: $0[start..<start + n])) }
        } catch {
            throw .badJSON("\(error)")
        }
        return value
    }

    private func compact() {
        if consumed > 0 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
    }

    func close() { Glibc.close(fd) }
}
