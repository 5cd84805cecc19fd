import CZeroMQ
import Foundation
import Logging
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A real broker with CURVE on both sockets and a keys folder: roles by key, NULL peers and
/// unknown keys refused at the handshake, the publish socket for node and admin keys only.
@Suite struct BrokerCurveTests {
    final class Secured: @unchecked Sendable {
        let dir = NSTemporaryDirectory() + "zt-curve-broker-\(UUID().uuidString)"
        let context = ZMQContext()
        let brokerKeys: CurveKeyPair
        var keys: [String: CurveKeyPair] = [:]
        let service: BrokerService

        init(peers: [(String, PeerRole)] = [("tenant-a", .client), ("n1", .node), ("ops", .admin)]) throws {
            brokerKeys = try CurveKeyPair.generate()
            for (name, role) in peers {
                let k = try CurveKeyPair.generate()
                try CurveKeyFile.write(k, name: name, directory: dir + "/" + role.folder)
                keys[name] = k
            }
            let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            let security = BrokerSecurity(keys: brokerKeys, peers: try PeerKeys(directory: dir, logger: quiet))
            service = BrokerService(request: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*", context: context, logger: quiet, security: security)
            try service.start()
        }

        /// A DEALER on the request socket, with `name`'s key (nil: no CURVE at all).
        func peer(_ keys: CurveKeyPair?, _ type: ZMQSocketType = .dealer, endpoint: String? = nil, routingID: String? = nil) throws -> ZMQSocket {
            let s = try ZMQSocket(context, type)
            try s.setLinger(milliseconds: 0)
            if let routingID { try s.setRoutingID(Array(routingID.utf8)) }
            if let keys { try s.makeCurveClient(serverKey: brokerKeys.publicKey, keys: keys) }
            let monitor = "inproc://m-\(UUID().uuidString)"
            try s.monitor(monitor, events: ZMQ_EVENT_ALL)
            monitors[ObjectIdentifier(s)] = try { let m = try ZMQSocket(context, .pair); try m.connect(monitor); return m }()
            try s.connect(endpoint ?? service.boundRequestEndpoint)
            return s
        }
        var monitors: [ObjectIdentifier: ZMQSocket] = [:]

        /// The first handshake outcome the socket's monitor reports.
        func handshake(_ s: ZMQSocket) throws -> UInt16 { try handshakeEvent(s)?.event ?? 0 }

        /// The first handshake outcome event (with its value: the ZAP status of a refusal).
        func handshakeEvent(_ s: ZMQSocket) throws -> ZMQMonitorEvent? {
            let m = monitors[ObjectIdentifier(s)]!
            var poller = ZMQPoller()
            poller.add(m)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                guard try poller.poll(timeoutMilliseconds: 100)[0].contains(.readable),
                    case .frames(let f)? = try m.receive(dontWait: true), let e = ZMQMonitorEvent(frames: f) else { continue }
                if [ZMQMonitorEvent.handshakeSucceeded, ZMQMonitorEvent.handshakeFailedAuth, ZMQMonitorEvent.handshakeFailedProtocol,
                    ZMQMonitorEvent.handshakeFailedNoDetail].contains(e.event) { return e }
            }
            Issue.record("no handshake outcome")
            return nil
        }

        func call(_ s: ZMQSocket, _ method: String, _ params: JSONValue = []) throws -> Response {
            try s.send(Request(method: "zerotask.broker." + method, params: Params(json: params)!, id: 1).json.jsonBytes)
            var poller = ZMQPoller()
            poller.add(s)
            guard try poller.poll(timeoutMilliseconds: 10_000)[0].contains(.readable), let frames = try s.receiveFrames(dontWait: true),
                let body = frames.last, let r = Response(json: try JSONValue.parse(body))
            else { throw TimedOut(what: "a reply to \(method)") }
            return r
        }

        deinit {
            for m in monitors.values { m.close(lingerMilliseconds: 0) }
            service.stop()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func code(_ r: Response) -> Int64? { if case .failure(let e) = r.outcome { e.code } else { nil } }

    @Test func eachKeyMayCallOnlyWhatItsRoleMay() throws {
        let b = try Secured()
        let client = try b.peer(b.keys["tenant-a"]), node = try b.peer(b.keys["n1"]), admin = try b.peer(b.keys["ops"])
        defer { [client, node, admin].forEach { $0.close(lingerMilliseconds: 0) } }
        #expect(try b.call(client, "client_connect", ["c1"]).outcome == .success("c1"))
        let rogue = try b.call(client, "node_connect", ["rogue"])
        #expect(code(rogue) == -32040)
        #expect(try b.call(node, "node_connect", ["n1"]).outcome == .success("n1"))
        #expect(code(try b.call(node, "client_connect", ["c2"])) == -32040)
        #expect(code(try b.call(node, "stats")) == -32040)
        let stats = try b.call(admin, "stats")
        #expect(stats.outcome.map { $0["nodes"] } == .success(1))
    }

    @Test func nullPeersAndUnknownKeysNeverGetIn() throws {
        let b = try Secured()
        let plain = try b.peer(nil), stranger = try b.peer(try CurveKeyPair.generate())
        defer { [plain, stranger].forEach { $0.close(lingerMilliseconds: 0) } }
        #expect(try b.handshake(plain) != ZMQMonitorEvent.handshakeSucceeded)
        #expect(try b.handshake(stranger) != ZMQMonitorEvent.handshakeSucceeded)
        let admin = try b.peer(b.keys["ops"])
        defer { admin.close(lingerMilliseconds: 0) }
        #expect(try b.handshake(admin) == ZMQMonitorEvent.handshakeSucceeded)
        _ = try? plain.send(Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["x"],"id":1}"#.utf8), dontWait: true)
        _ = try? stranger.send(Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["y"],"id":1}"#.utf8), dontWait: true)
        // Only the admin's own request was ever handled.
        let stats = try b.call(admin, "stats")
        #expect(stats.outcome.map { $0["requests_total"] } == .success(1))
        #expect(stats.outcome.map { $0["clients"] } == .success(0))
    }

    @Test func thePublishSocketTakesNodeAndAdminKeysOnly() throws {
        let b = try Secured()
        let clientSub = try b.peer(b.keys["tenant-a"], .sub, endpoint: b.service.boundPublishEndpoint)
        let nodeSub = try b.peer(b.keys["n1"], .sub, endpoint: b.service.boundPublishEndpoint)
        defer { [clientSub, nodeSub].forEach { $0.close(lingerMilliseconds: 0) } }
        #expect(try b.handshake(clientSub) != ZMQMonitorEvent.handshakeSucceeded)
        #expect(try b.handshake(nodeSub) == ZMQMonitorEvent.handshakeSucceeded)
    }
}

extension BrokerCurveTests {
    /// libzmq's matrix against the real broker and its keys folders: a well-formed key in no
    /// folder is refused with ZAP status 400; a key whose file is removed from its folder gets in
    /// no more on its next connection (no restart); a NULL subscriber never reaches the publish
    /// socket.
    @Test func unknownAndRemovedKeysAreRefusedWith400() throws {
        let b = try Secured()
        let stranger = try b.peer(try CurveKeyPair.generate())
        defer { stranger.close(lingerMilliseconds: 0) }
        let refused = try #require(try b.handshakeEvent(stranger))
        #expect(refused.event == ZMQMonitorEvent.handshakeFailedAuth && refused.value == 400, "\(refused)")

        let first = try b.peer(b.keys["n1"])
        #expect(try b.handshake(first) == ZMQMonitorEvent.handshakeSucceeded)
        first.close(lingerMilliseconds: 0)
        try FileManager.default.removeItem(atPath: b.dir + "/nodes/n1.pub")
        // The folders are read again when they change (at least every second): a new connection
        // is refused once that happened.
        var last: ZMQMonitorEvent?
        let gone = try eventually(30) {
            let again = try b.peer(b.keys["n1"])
            defer { again.close(lingerMilliseconds: 0) }
            last = try b.handshakeEvent(again)
            return last?.event == ZMQMonitorEvent.handshakeFailedAuth && last?.value == 400
        }
        #expect(gone, "\(String(describing: last))")
    }

    @Test func nullSubscribersNeverReachThePublishSocket() throws {
        let b = try Secured()
        let plain = try b.peer(nil, .sub, endpoint: b.service.boundPublishEndpoint)
        let admin = try b.peer(b.keys["ops"], .sub, endpoint: b.service.boundPublishEndpoint)
        defer { [plain, admin].forEach { $0.close(lingerMilliseconds: 0) } }
        #expect(try b.handshake(plain) != ZMQMonitorEvent.handshakeSucceeded)
        #expect(try b.handshake(admin) == ZMQMonitorEvent.handshakeSucceeded)
    }
}
