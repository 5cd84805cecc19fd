import CZeroMQ
import Foundation
import Synchronization
import Testing
@testable import ZeroMQ

/// libzmq's CURVE matrix (tests/test_security_curve.cpp) over real TCP on loopback, with our
/// ZAP handler deciding which keys get in.
@Suite struct CurveTests {
    /// State the ZAP handler's thread and the test share.
    final class Shared<Value: Sendable>: Sendable {
        private let mutex: Mutex<Value>
        init(_ value: Value) { mutex = Mutex(value) }
        func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    /// A CURVE ROUTER bound on loopback, its ZAP handler allowing the keys in `allowed`
    /// (public key → user id), and a monitor reporting its handshakes.
    final class Server: @unchecked Sendable {
        let context = ZMQContext()
        let keys: CurveKeyPair
        /// Public key → user id; a test may take a key away while the server runs.
        let allowed = Shared<[String: String]>([:])
        let requests = Shared<[ZAPRequest]>([])
        let zap: ZAPHandler
        let router: ZMQSocket
        let monitor: ZMQSocket
        let endpoint: String

        init(allowed: [String: String]) throws {
            keys = try CurveKeyPair.generate()
            let allowedKeys = self.allowed, seen = requests
            allowedKeys.withLock { $0 = allowed }
            zap = try ZAPHandler(context: context) { request in
                seen.withLock { $0.append(request) }
                guard let key = request.publicKey else { return .deny("CURVE required") }
                return allowedKeys.withLock { $0[key] }.map { .allow(userID: $0) } ?? .deny("unknown key")
            }
            router = try ZMQSocket(context, .router)
            try router.makeCurveServer(keys)
            let monitorEndpoint = "inproc://monitor-\(UUID().uuidString)"
            try router.monitor(monitorEndpoint, events: ZMQ_EVENT_ALL)
            monitor = try ZMQSocket(context, .pair)
            try monitor.connect(monitorEndpoint)
            try router.bind("tcp://127.0.0.1:*")
            endpoint = router.lastEndpoint!
        }

        /// Reads monitor events until one of `kinds` arrives (or fails after the guard time).
        func next(_ kinds: Set<UInt16>) throws -> ZMQMonitorEvent {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                guard case .frames(let f) = try monitor.receiveWithin(seconds: 10), let e = ZMQMonitorEvent(frames: f) else { continue }
                if kinds.contains(e.event) { return e }
            }
            throw NothingArrived()
        }

        deinit {
            monitor.close(lingerMilliseconds: 0)
            router.close(lingerMilliseconds: 0)
            zap.stop()
        }
    }

    static let handshakeEnd: Set<UInt16> = [
        ZMQMonitorEvent.handshakeSucceeded, ZMQMonitorEvent.handshakeFailedAuth,
        ZMQMonitorEvent.handshakeFailedProtocol, ZMQMonitorEvent.handshakeFailedNoDetail,
    ]

    func dealer(_ server: Server, serverKey: String? = nil, keys: CurveKeyPair?) throws -> ZMQSocket {
        let d = try ZMQSocket(server.context, .dealer)
        if let keys { try d.makeCurveClient(serverKey: serverKey ?? server.keys.publicKey, keys: keys) }
        try d.connect(server.endpoint)
        return d
    }

    @Test func anAllowedKeyGetsThroughAndItsUserIDRidesOnEveryMessage() throws {
        let alice = try CurveKeyPair.generate()
        let server = try Server(allowed: [alice.publicKey: "alice"])
        let d = try dealer(server, keys: alice)
        defer { d.close(lingerMilliseconds: 0) }
        #expect(try server.next(Self.handshakeEnd).event == ZMQMonitorEvent.handshakeSucceeded)
        try d.send(bytes("hello"))
        let frames = try server.router.framesWithin()
        #expect(frames.last == bytes("hello"))
        #expect(server.router.property("User-Id") == "alice")
        #expect(server.router.usesCurve && d.usesCurve)
        let request = try #require(server.requests.withLock { $0.first })
        #expect(request.mechanism == "CURVE" && request.publicKey == alice.publicKey && request.domain == "zerotask")
    }

    @Test func aWellFormedUnknownKeyIsRefusedWith400() throws {
        let server = try Server(allowed: [try CurveKeyPair.generate().publicKey: "someone"])
        let d = try dealer(server, keys: try CurveKeyPair.generate())
        defer { d.close(lingerMilliseconds: 0) }
        let event = try server.next(Self.handshakeEnd)
        #expect(event.event == ZMQMonitorEvent.handshakeFailedAuth)
        #expect(event.value == 400)
        try d.send(bytes("let me in"), dontWait: true)
        #expect(try server.router.receive(dontWait: true) == nil)
    }

    @Test func aWrongServerKeyNeverCompletesTheHandshake() throws {
        let alice = try CurveKeyPair.generate()
        let server = try Server(allowed: [alice.publicKey: "alice"])
        // A well-formed key that is not the server's: the client's HELLO cannot be opened.
        let d = try dealer(server, serverKey: try CurveKeyPair.generate().publicKey, keys: alice)
        defer { d.close(lingerMilliseconds: 0) }
        let event = try server.next(Self.handshakeEnd)
        #expect(event.event != ZMQMonitorEvent.handshakeSucceeded)
        #expect(server.requests.withLock { $0.isEmpty })
    }

    @Test func aClientWhosePublicKeyIsNotItsSecretsIsRefused() throws {
        let alice = try CurveKeyPair.generate()
        let mallory = try CurveKeyPair.generate()
        let server = try Server(allowed: [alice.publicKey: "alice"])
        // Claims alice's public key without her secret: the INITIATE's vouch cannot be opened.
        let forged = try ZMQSocket(server.context, .dealer)
        defer { forged.close(lingerMilliseconds: 0) }
        try forged.setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(server.keys.publicKey.utf8))
        try forged.setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(alice.publicKey.utf8))
        try forged.setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(mallory.secretKey.utf8))
        try forged.connect(server.endpoint)
        #expect(try server.next(Self.handshakeEnd).event != ZMQMonitorEvent.handshakeSucceeded)
        #expect(server.requests.withLock { $0.isEmpty })
    }

    @Test func aNullPeerIsRefusedByACurveServer() throws {
        let server = try Server(allowed: [:])
        let d = try dealer(server, keys: nil)
        defer { d.close(lingerMilliseconds: 0) }
        #expect(try server.next(Self.handshakeEnd).event == ZMQMonitorEvent.handshakeFailedProtocol)
        try d.send(bytes("plain text"), dontWait: true)
        #expect(try server.router.receive(dontWait: true) == nil)
    }

    @Test func aCurveServerWithoutAZAPHandlerRefusesEveryKey() throws {
        // libzmq lets every key in when no handler answers, unless told to enforce ZAP: a
        // handler that is gone (stopped, or released with its owner) must not open the door.
        let context = ZMQContext()
        let serverKeys = try CurveKeyPair.generate(), alice = try CurveKeyPair.generate()
        let router = try ZMQSocket(context, .router)
        defer { router.close(lingerMilliseconds: 0) }
        try router.makeCurveServer(serverKeys)
        let monitorEndpoint = "inproc://monitor-\(UUID().uuidString)"
        try router.monitor(monitorEndpoint, events: ZMQ_EVENT_ALL)
        let monitor = try ZMQSocket(context, .pair)
        defer { monitor.close(lingerMilliseconds: 0) }
        try monitor.connect(monitorEndpoint)
        try router.bind("tcp://127.0.0.1:*")
        let d = try ZMQSocket(context, .dealer)
        defer { d.close(lingerMilliseconds: 0) }
        try d.makeCurveClient(serverKey: serverKeys.publicKey, keys: alice)
        try d.connect(router.lastEndpoint!)
        var end: ZMQMonitorEvent?
        let deadline = Date().addingTimeInterval(30)
        while end == nil && Date() < deadline {
            guard case .frames(let f) = try monitor.receiveWithin(seconds: 30), let e = ZMQMonitorEvent(frames: f) else { continue }
            if Self.handshakeEnd.contains(e.event) { end = e }
        }
        #expect(end != nil && end?.event != ZMQMonitorEvent.handshakeSucceeded, "\(String(describing: end))")
        try d.send(bytes("let me in"), dontWait: true)
        #expect(try router.receive(dontWait: true) == nil)
    }

    @Test func aKeyTakenAwayIsRefusedOnTheNextConnection() throws {
        let alice = try CurveKeyPair.generate()
        let server = try Server(allowed: [alice.publicKey: "alice"])
        let first = try dealer(server, keys: alice)
        #expect(try server.next(Self.handshakeEnd).event == ZMQMonitorEvent.handshakeSucceeded)
        first.close(lingerMilliseconds: 0)
        server.allowed.withLock { $0[alice.publicKey] = nil }
        let second = try dealer(server, keys: alice)
        defer { second.close(lingerMilliseconds: 0) }
        let event = try server.next(Self.handshakeEnd)
        #expect(event.event == ZMQMonitorEvent.handshakeFailedAuth && event.value == 400)
    }

    @Test func malformedKeysAreRefusedBeforeAnyConnection() throws {
        let context = ZMQContext()
        let d = try ZMQSocket(context, .dealer)
        defer { d.close(lingerMilliseconds: 0) }
        let keys = try CurveKeyPair.generate()
        #expect(throws: ZMQError.self) { try d.makeCurveClient(serverKey: "not a key", keys: keys) }
        #expect(throws: ZMQError.self) { try CurveKeyPair(secretKey: String(repeating: "~", count: 40)) }
    }

    @Test func aSecretKeyGivesBackItsPublicKey() throws {
        let keys = try CurveKeyPair.generate()
        #expect(Z85.isKey(keys.publicKey) && Z85.isKey(keys.secretKey) && keys.publicKey != keys.secretKey)
        #expect(try CurveKeyPair(secretKey: keys.secretKey) == keys)
    }

    @Test func z85MatchesTheRFCVector() {
        // RFC 32's test vector.
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
        #expect(Z85.encode([1, 2, 3]) == nil)
        #expect(Z85.decode("Hello") != nil && Z85.decode("Hell") == nil && Z85.decode("Hell~") == nil)
    }

    @Test func malformedZAPRequestsAreRefused() {
        let allowAll: (ZAPRequest) -> ZAPDecision = { _ in .allow(userID: "x") }
        let wrongVersion = ZAPHandler.answer([bytes("2.0"), bytes("7"), [], [], [], bytes("NULL")], authorize: allowAll)
        #expect(wrongVersion[1] == bytes("7") && wrongVersion[2] == bytes("400"))
        let shortKey = ZAPHandler.answer([bytes("1.0"), bytes("8"), [], [], [], bytes("CURVE"), [1, 2, 3]], authorize: allowAll)
        #expect(shortKey[2] == bytes("400"))
        let null = ZAPHandler.answer([bytes("1.0"), bytes("9"), bytes("d"), bytes("127.0.0.1"), [], bytes("NULL")], authorize: allowAll)
        #expect(null == [bytes("1.0"), bytes("9"), bytes("200"), bytes("OK"), bytes("x"), []])
    }
}

@Suite struct CurveKeyFileTests {
    func folder() -> String {
        let dir = NSTemporaryDirectory() + "zt-keys-\(UUID().uuidString)"
        return dir
    }

    @Test func writtenKeysReadBackWithTheSecretPrivate() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = try CurveKeyPair.generate()
        let paths = try CurveKeyFile.write(keys, name: "alice", directory: dir)
        #expect(paths.secret == dir + "/alice.key" && paths.public == dir + "/alice.pub")
        #expect(try CurveKeyFile.readSecret(paths.secret) == keys)
        #expect(try CurveKeyFile.readPublic(paths.public) == keys.publicKey)
        #expect(try CurveKeyFile.readPublic(paths.secret) == keys.publicKey)
        let mode = try FileManager.default.attributesOfItem(atPath: paths.secret)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let pubText = try String(contentsOfFile: paths.public, encoding: .utf8)
        #expect(!pubText.contains(keys.secretKey))
    }

    @Test func anExistingKeyIsNotOverwrittenUnlessAsked() throws {
        let dir = folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try CurveKeyPair.generate()
        try CurveKeyFile.write(first, name: "n", directory: dir)
        #expect(throws: CurveKeyFile.Problem.self) { try CurveKeyFile.write(try CurveKeyPair.generate(), name: "n", directory: dir) }
        #expect(try CurveKeyFile.readSecret(dir + "/n.key") == first)
        let second = try CurveKeyPair.generate()
        try CurveKeyFile.write(second, name: "n", directory: dir, replace: true)
        #expect(try CurveKeyFile.readSecret(dir + "/n.key") == second)
    }

    @Test func brokenKeyFilesNameTheFileAndTheCause() throws {
        let dir = folder()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try CurveKeyPair.generate(), b = try CurveKeyPair.generate()
        let mixed = dir + "/mixed.key"
        try "public-key \(a.publicKey)\nsecret-key \(b.secretKey)\n".write(toFile: mixed, atomically: true, encoding: .utf8)
        #expect(throws: CurveKeyFile.Problem(path: mixed, reason: "its public key does not belong to its secret key")) {
            try CurveKeyFile.readSecret(mixed)
        }
        let pubOnly = dir + "/x.pub"
        try "# comment\n\(a.publicKey)\n".write(toFile: pubOnly, atomically: true, encoding: .utf8)
        #expect(try CurveKeyFile.readPublic(pubOnly) == a.publicKey)
        #expect((try? CurveKeyFile.readSecret(pubOnly)) == nil)
        let junk = dir + "/junk.pub"
        try "hello\n".write(toFile: junk, atomically: true, encoding: .utf8)
        #expect(throws: CurveKeyFile.Problem(path: junk, reason: "not a public key: expected 40 Z85 characters")) {
            try CurveKeyFile.readPublic(junk)
        }
        #expect(throws: CurveKeyFile.Problem(path: dir + "/none.key", reason: "no such file")) {
            try CurveKeyFile.readSecret(dir + "/none.key")
        }
    }
}

@Suite struct CurveKeyFileEdgeTests {
    /// '=' and '"' are Z85 characters: a key that begins or ends with one must read back whole.
    @Test func keysEdgedWithPunctuationReadBackWhole() throws {
        let dir = NSTemporaryDirectory() + "zt-keys-edge-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var found = 0
        // Until a few keys have such an edge (about one in twenty does).
        for i in 0..<3000 where found < 5 {
            let keys = try CurveKeyPair.generate()
            let edges = [keys.publicKey, keys.secretKey].flatMap { [$0.first!, $0.last!] }
            guard edges.contains(where: { "=\" ".contains($0) }) else { continue }
            found += 1
            let paths = try CurveKeyFile.write(keys, name: "k\(i)", directory: dir)
            #expect(try CurveKeyFile.readSecret(paths.secret) == keys)
            #expect(try CurveKeyFile.readPublic(paths.public) == keys.publicKey)
        }
        #expect(found == 5)
    }
}
