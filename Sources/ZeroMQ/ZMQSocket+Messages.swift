import CZeroMQ

/// A received multipart message.
public enum ZMQReceived: Sendable {
    case frames([[UInt8]])
    /// More frames arrived than the caller allows; they were read and dropped.
    case tooManyFrames(Int)
}

extension ZMQSocket {
    /// Sends one frame; `more` marks that further frames of the same message follow.
    /// - Returns: false when `dontWait` is set and the send would block.
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        var flags: Int32 = 0
        if more { flags |= ZMQ_SNDMORE }
        if dontWait { flags |= ZMQ_DONTWAIT }
        while true {
            if zmq_send(raw, frame.baseAddress, frame.count, flags) >= 0 { return true }
            let e = zt_errno()
            if e == EINTR { continue }
            if e == EAGAIN && dontWait { return false }
            throw ZMQError("zmq_send", errno: e)
        }
    }

    @discardableResult
    public func send(_ frame: [UInt8], more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        do {
            return try frame.withUnsafeBytes { try send($0, more: more, dontWait: dontWait) }
        } catch let e as ZMQError { throw e } catch { fatalError("unreachable") }
    }

    /// Sends a multipart message. On a ROUTER, a first frame naming a vanished peer is dropped
    /// silently by libzmq (unless ROUTER_MANDATORY is set), so replies never stall the sender.
    @discardableResult
    public func send(frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        for (i, f) in frames.enumerated() {
            let sent = try send(f, more: i < frames.count - 1, dontWait: dontWait)
            // Only the first frame can report "would block"; after it libzmq takes the rest.
            if !sent { return false }
        }
        return true
    }

    /// Receives one whole multipart message.
    /// - Parameter maxFrames: a message with more frames is drained and reported, not returned.
    /// - Returns: nil when `dontWait` is set and nothing is waiting.
    public func receive(dontWait: Bool = false, maxFrames: Int = 64) throws(ZMQError) -> ZMQReceived? {
        var frames: [[UInt8]] = []
        var count = 0
        var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
        while true {
            let n = zmq_msg_recv(message, raw, flags)
            if n < 0 {
                let e = zt_errno()
                if e == EINTR { continue }
                if e == EAGAIN && count == 0 { return nil }
                throw ZMQError("zmq_msg_recv", errno: e)
            }
            count += 1
            if count <= maxFrames {
                let data = zmq_msg_data(message)!
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: Int(n))))
            }
            guard zmq_msg_more(message) != 0 else { break }
            // The rest of a multipart message is already here: never wait for it.
            flags = 0
        }
        return count <= maxFrames ? .frames(frames) : .tooManyFrames(count)
    }

    /// Receives a message and returns its frames, or nil on would-block; over-long messages throw.
    public func receiveFrames(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        switch try receive(dontWait: dontWait, maxFrames: 1024) {
        case nil: return nil
        case .frames(let f)?: return f
        case .tooManyFrames?: throw ZMQError("zmq_msg_recv", errno: EMSGSIZE)
        }
    }
}
