import CZeroMQ
import ZeroTaskSystem

/// One authentication request from libzmq (ZAP, RFC 27): who is connecting, and how.
public struct ZAPRequest: Sendable, Equatable {
    /// The ZAP domain of the server socket (`ZMQ_ZAP_DOMAIN`).
    public var domain: String
    /// The peer's IP address.
    public var address: String
    /// `NULL`, `PLAIN` or `CURVE`.
    public var mechanism: String
    /// For CURVE: the client's public key, Z85.
    public var publicKey: String?

    public init(domain: String, address: String, mechanism: String, publicKey: String? = nil) {
        self.domain = domain
        self.address = address
        self.mechanism = mechanism
        self.publicKey = publicKey
    }
}

/// What a ZAP handler answers.
public enum ZAPDecision: Sendable, Equatable {
    /// Let the peer in; `userID` comes back on each of its messages as the `User-Id` property.
    case allow(userID: String)
    /// Refuse the handshake (status 400) and say why (libzmq logs nothing; the text is for monitors).
    case deny(String)
}

/// Answers libzmq's authentication requests for every server socket of one context, on a
/// thread of its own. It must be started before any server socket binds and stopped only after
/// they are closed: with no handler, libzmq lets every CURVE key in (it fails open).
public final class ZAPHandler: Sendable {
    /// The endpoint libzmq sends ZAP requests to (RFC 27).
    public static let endpoint = "inproc://zeromq.zap.01"

    private let wake = WakePipe()
    private let thread: LoopThread

    /// Binds the handler in `context`; `authorize` is called on the handler's thread, once per
    /// handshake, and must not block for long (handshakes wait for it).
    public init(context: ZMQContext, authorize: @escaping @Sendable (ZAPRequest) -> ZAPDecision) throws(ZMQError) {
        let socket = try ZMQSocket(context, .rep)
        try socket.bind(Self.endpoint)
        let wake = self.wake
        thread = LoopThread(name: "zerotask-zap") {
            Self.serve(socket, wake: wake, authorize: authorize)
            socket.close(lingerMilliseconds: 0)
        }
    }

    /// Stops answering and waits for the thread to end.
    public func stop() {
        wake.signal()
        thread.wait()
    }

    private static func serve(_ socket: ZMQSocket, wake: WakePipe, authorize: (ZAPRequest) -> ZAPDecision) {
        var poller = ZMQPoller()
        poller.add(socket)
        poller.add(fd: wake.readFD)
        while true {
            guard let ready = try? poller.poll(timeoutMilliseconds: -1) else { return }
            if ready[1].contains(.readable) { return }
            while let received = try? socket.receive(dontWait: true, maxFrames: 16) {
                guard case .frames(let frames) = received else {
                    // A REP socket must answer every request; a malformed one gets a 500.
                    _ = try? socket.send(frames: reply(version: "1.0", requestID: [], status: "500", text: "malformed ZAP request", userID: ""))
                    continue
                }
                _ = try? socket.send(frames: answer(frames, authorize: authorize))
            }
        }
    }

    /// The reply frames for one request's frames (RFC 27: version, request id, domain,
    /// address, identity, mechanism, credentials…).
    static func answer(_ frames: [[UInt8]], authorize: (ZAPRequest) -> ZAPDecision) -> [[UInt8]] {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
            return reply(version: "1.0", requestID: frames.count > 1 ? frames[1] : [], status: "400", text: "unsupported ZAP request", userID: "")
        }
        let text = { (i: Int) in String(decoding: frames[i], as: UTF8.self) }
        let mechanism = text(5)
        var publicKey: String?
        if mechanism == "CURVE" {
            guard frames.count == 7, frames[6].count == 32, let z85 = Z85.encode(frames[6]) else {
                return reply(version: "1.0", requestID: frames[1], status: "400", text: "malformed CURVE credentials", userID: "")
            }
            publicKey = z85
        }
        let request = ZAPRequest(domain: text(2), address: text(3), mechanism: mechanism, publicKey: publicKey)
        switch authorize(request) {
        case .allow(let user): return reply(version: "1.0", requestID: frames[1], status: "200", text: "OK", userID: user)
        case .deny(let why): return reply(version: "1.0", requestID: frames[1], status: "400", text: why, userID: "")
        }
    }

    private static func reply(version: String, requestID: [UInt8], status: String, text: String, userID: String) -> [[UInt8]] {
        // version, request id, status code, status text, user id, metadata (none).
        [Array(version.utf8), requestID, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
    }
}

extension ZMQSocket {
    /// A property of the last message received on this socket, e.g. `User-Id` (the identity
    /// the ZAP handler gave its sender) or `Peer-Address`; nil when it has none.
    public func property(_ name: String) -> String? {
        guard let value = zmq_msg_gets(message, name) else { return nil }
        return String(cString: value)
    }
}
