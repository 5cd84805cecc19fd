import Foundation
import Synchronization
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol

/// A broker on loopback with ephemeral ports, for one test.
public final class TestBroker: @unchecked Sendable {
    public let service: BrokerService
    public let context = ZMQContext()
    public var request: String { service.boundRequestEndpoint }
    public var publish: String { service.boundPublishEndpoint }

    /// Starts a broker on loopback: ephemeral ports unless given (a port just released by a
    /// stopped broker may take a moment to bind again, so binding is retried for a while).
    /// With `security`, both sockets use CURVE and only its keys get in.
    public init(request: String = "tcp://127.0.0.1:*", publish: String = "tcp://127.0.0.1:*", security: BrokerSecurity? = nil,
        _ configure: (inout BrokerConfig) -> Void = { _ in }) throws
    {
        var config = BrokerConfig()
        configure(&config)
        service = BrokerService(config: config, request: request, publish: publish, context: context, security: security)
        var attempt = 0
        while true {
            do {
                try service.start()
                return
            } catch {
                attempt += 1
                if attempt >= 50 { throw error }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    public func stop() { service.stop() }

    public func peer(_ type: ZMQSocketType = .req, curve: CurveClientKeys? = nil) throws -> TestPeer { try TestPeer(self, type, curve: curve) }

    deinit { service.stop() }
}

public struct TimedOut: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// A REQ or DEALER peer speaking raw JSON-RPC to the broker.
public final class TestPeer: @unchecked Sendable {
    public let socket: ZMQSocket
    public let type: ZMQSocketType
    private var nextID: Int64 = 1

    /// A peer of `broker`, with CURVE when `curve` is given.
    public init(_ broker: TestBroker, _ type: ZMQSocketType, curve: CurveClientKeys? = nil) throws {
        socket = try ZMQSocket(broker.context, type)
        self.type = type
        try socket.setLinger(milliseconds: 0)
        try socket.secure(with: curve)
        try socket.connect(broker.request)
    }

    /// A peer of a broker running elsewhere (another process), with CURVE when `curve` is given.
    public init(endpoint: String, context: ZMQContext, _ type: ZMQSocketType = .req, curve: CurveClientKeys? = nil) throws {
        socket = try ZMQSocket(context, type)
        self.type = type
        try socket.setLinger(milliseconds: 0)
        try socket.secure(with: curve)
        try socket.connect(endpoint)
    }

    /// A peer whose socket `connect` sets up and connects itself (e.g. with CURVE keys first).
    public init(context: ZMQContext, _ type: ZMQSocketType = .req, connect: (ZMQSocket) throws -> Void) throws {
        socket = try ZMQSocket(context, type)
        self.type = type
        try socket.setLinger(milliseconds: 0)
        try connect(socket)
    }

    /// Sends a raw body (for a DEALER, with or without the REQ-style empty delimiter).
    public func sendRaw(_ body: [UInt8], delimiter: Bool = false) throws {
        if type == .dealer && delimiter { try socket.send([], more: true) }
        try socket.send(body)
    }

    public func sendRaw(_ text: String, delimiter: Bool = false) throws { try sendRaw(Array(text.utf8), delimiter: delimiter) }

    /// Receives one body, waiting at most `seconds`.
    public func receiveRaw(seconds: Double = 10) throws -> [UInt8] {
        var poller = ZMQPoller()
        poller.add(socket)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let ready = try poller.poll(timeoutMilliseconds: 50)
            if ready[0].contains(.readable), let frames = try socket.receiveFrames(dontWait: true) {
                var f = frames
                if type == .dealer, f.first?.isEmpty == true { f.removeFirst() }
                return f.last ?? []
            }
        }
        throw TimedOut(what: "a reply")
    }

    public func receiveJSON(seconds: Double = 10) throws -> JSONValue { try JSONValue.parse(try receiveRaw(seconds: seconds)) }

    /// Nothing arrives within `seconds`.
    public func expectSilence(seconds: Double = 0.3) throws -> Bool {
        var poller = ZMQPoller()
        poller.add(socket)
        return try !poller.poll(timeoutMilliseconds: Int(seconds * 1000))[0].contains(.readable)
    }

    /// Sends a request and returns the response (REQ, or DEALER with a delimiter).
    public func call(_ method: String, _ params: JSONValue = .array([]), id: JSONValue? = nil) throws -> Response {
        let rid = id ?? .int(nextID)
        nextID += 1
        let name = method.hasPrefix("zerotask.") ? method : "zerotask.broker." + method
        let req = Request(method: name, params: Params(json: params)!, id: rid)
        try sendRaw(req.json.jsonBytes, delimiter: true)
        let json = try receiveJSON()
        guard let r = Response(json: json) else { throw TimedOut(what: "a response, got \(json)") }
        #expect(r.id == rid)
        return r
    }

    /// The result of a call that must succeed.
    public func result(_ method: String, _ params: JSONValue = .array([]), sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        let r = try call(method, params)
        switch r.outcome {
        case .success(let v): return v
        case .failure(let e):
            Issue.record("\(method) failed: \(e)", sourceLocation: sourceLocation)
            return .null
        }
    }

    /// The error of a call that must fail.
    public func error(_ method: String, _ params: JSONValue = .array([]), sourceLocation: SourceLocation = #_sourceLocation) throws -> RPCError? {
        let r = try call(method, params)
        switch r.outcome {
        case .success(let v):
            Issue.record("\(method) succeeded with \(v), expected an error", sourceLocation: sourceLocation)
            return nil
        case .failure(let e): return e
        }
    }
}

/// A subscriber to the broker's notifications.
public final class TestSubscriber: @unchecked Sendable {
    public let socket: ZMQSocket

    public init(_ broker: TestBroker, prefixes: [String], curve: CurveClientKeys? = nil) throws {
        socket = try ZMQSocket(broker.context, .sub)
        try socket.setLinger(milliseconds: 0)
        try socket.secure(with: curve)
        for p in prefixes { try socket.subscribe(p) }
        try socket.connect(broker.publish)
    }

    public func receive(seconds: Double = 5) throws -> String? {
        var poller = ZMQPoller()
        poller.add(socket)
        guard try poller.poll(timeoutMilliseconds: Int(seconds * 1000))[0].contains(.readable),
            let frames = try socket.receiveFrames(dontWait: true)
        else { return nil }
        return String(decoding: frames.last ?? [], as: UTF8.self)
    }
}

/// Polls `condition` until it holds or `seconds` pass.
public func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// A loopback endpoint whose port nothing listens on, for a child that must bind a port known
/// in advance (it is started again on the same one) or for a peer that must find nobody.
///
/// The port comes from below the kernel's ephemeral range, which a bind to port 0 (`*`) never
/// hands out: the many brokers that tests start in parallel on ephemeral ports cannot take it
/// between this check and the child's bind. Ports are spread by pid and handed out in turn, so
/// test processes running side by side rarely pick the same one, and a port seen taken is
/// skipped.
public func unusedEndpoint() throws -> String {
    let context = ZMQContext()
    for _ in 0..<ReservedPorts.count {
        let port = ReservedPorts.next()
        let s = try ZMQSocket(context, .router)
        defer { s.close(lingerMilliseconds: 0) }
        if (try? s.bind("tcp://127.0.0.1:\(port)")) != nil { return "tcp://127.0.0.1:\(port)" }
    }
    throw TimedOut(what: "a free port in \(ReservedPorts.range)")
}

/// The ports `unusedEndpoint()` hands out, below the ephemeral range.
enum ReservedPorts {
    static let range = 20000..<(min(ephemeralStart, 32768) - 1)
    static var count: Int { range.count }
    private static let counter = Atomic<Int>(Int(getpid()) &* 7919)

    static func next() -> Int {
        range.lowerBound + abs(counter.add(1, ordering: .relaxed).newValue % range.count)
    }

    /// The first port the kernel picks for a bind to port 0.
    private static var ephemeralStart: Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } ?? 32768
    }
}

/// The endpoints a `zerotask broker` or a node with a built-in broker actually bound, read
/// from its "broker listening" log line: the child binds port 0 (`tcp://127.0.0.1:*`), so no
/// port is chosen ahead of time and nothing can take it in between.
public func listeningEndpoints(of child: ChildProcess, seconds: Double = 30) throws -> (request: String, publish: String) {
    var found: (String, String)?
    _ = eventually(seconds) {
        guard let line = child.output.split(separator: "\n").first(where: { $0.contains("broker listening") }) else {
            return !child.isRunning
        }
        func value(_ key: String) -> String? {
            guard let r = line.range(of: "\(key)=") else { return nil }
            return String(line[r.upperBound...].prefix { !$0.isWhitespace && $0 != "," && $0 != "]" && $0 != "\"" })
        }
        if let request = value("request"), let publish = value("publish") { found = (request, publish) }
        return true
    }
    guard let found else { throw TimedOut(what: "the child's \"broker listening\" line; its output:\n\(child.output)") }
    return found
}

/// A ROUTER that takes every request and never answers: a broker that hangs.
public final class SilentBroker: @unchecked Sendable {
    public let socket: ZMQSocket
    public let endpoint: String

    public init() throws {
        socket = try ZMQSocket(ZMQContext(), .router)
        try socket.setLinger(milliseconds: 0)
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = socket.lastEndpoint ?? ""
    }

    deinit { socket.close(lingerMilliseconds: 0) }
}

extension Result where Failure == RPCError {
    /// The error code, if this is a failure.
    public var failureCode: Int64? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}
