import Foundation
import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Real `zerotask node` processes against a broker with CURVE on both sockets and a keys folder
/// (real keys on disk): a node with its own key serves on both sockets; a rogue node (a key the
/// broker does not know, or no key) never registers; a client's key cannot register a node.
@Suite struct NodeCurveTests {
    static func curveFlags(_ keys: TestKeys, secret: String) -> [String] {
        ["--secret-key", secret, "--broker-key", keys.brokerPublic]
    }

    /// The node's request socket (register, pull, report) and its subscribe socket both speak
    /// CURVE: a cancel reaches the node only as a notification (heartbeats, which would also tell
    /// it, are minutes apart here).
    @Test func aNodeWithItsKeyServesOnBothSockets() throws {
        let keys = try TestKeys()
        let h = try NodeHarness(nodeTimeout: 600, keys: keys)
        let node = try h.startNode(id: "n1", extra: Self.curveFlags(keys, secret: keys.secret("n1")) + ["--heartbeat-interval", "300"])
        #expect(try h.outcome(try h.submit("nt.add", [2, 3])) == .success(5))
        #expect(node.output.contains("CURVE to the broker: broker key \(keys.broker.publicKey)"), "\(node.output)")

        let long = try h.submit("nt.sleep", [60_000])
        #expect(try eventually(60) { try h.client.result("client_task_status", ["tester", long]) == .int(TaskStatus.running.rawValue) })
        #expect(try h.client.result("client_cancel_task", ["tester", long]) == true)
        #expect(eventually(60) { node.output.contains("cancelling task \(long.stringValue ?? "?")") }, "\(node.output)")
    }

    /// A rogue node — a well-formed key the broker does not know, or no key at all — is refused
    /// at the handshake: while a node with an allowed key registers and serves, the rogues never
    /// appear among the nodes and are never handed a task.
    @Test func rogueNodesWithUnknownOrNoKeysNeverRegister() throws {
        let keys = try TestKeys()
        let h = try NodeHarness(keys: keys)
        let stranger = try keys.stranger("rogue")
        let rogue = try ChildProcess(Binaries.zerotask, ["node", "--broker", h.broker.request, "--broker-publish", h.broker.publish,
            "--plugins", h.plugins, "--node-id", "rogue", "--workers", "1"] + Self.curveFlags(keys, secret: stranger))
        let plain = try ChildProcess(Binaries.zerotask, ["node", "--broker", h.broker.request, "--broker-publish", h.broker.publish,
            "--plugins", h.plugins, "--node-id", "plain", "--workers", "1"])
        defer { [rogue, plain].forEach { $0.stop() } }
        // Both started first; the allowed node registers after them.
        try h.startNode(id: "n1", extra: Self.curveFlags(keys, secret: keys.secret("n1")))
        for _ in 0..<5 { #expect(try h.outcome(try h.submit("nt.add", [1, 1])) == .success(2)) }
        // The rogues got as far as trying: their workers are ready, which is when a node connects.
        #expect(eventually(120) { rogue.output.contains("serving ") && plain.output.contains("serving ") },
            "rogue: \(rogue.output)\nplain: \(plain.output)")
        // A few more tasks after that: time for several register attempts, each refused.
        for _ in 0..<5 { #expect(try h.outcome(try h.submit("nt.add", [1, 1])) == .success(2)) }
        let nodes = try h.client.result("nodes").arrayValue?.compactMap { $0["node_id"]?.stringValue }
        #expect(nodes == ["n1"])
        #expect(rogue.isRunning && plain.isRunning)
        #expect(!rogue.output.contains("registered with the broker"), "\(rogue.output)")
        #expect(!plain.output.contains("registered with the broker"), "\(plain.output)")
    }

    /// A client's key gets through the handshake but may not call node methods: the broker
    /// refuses node_connect (-32040) and the node says so; it never registers.
    @Test func aClientKeyCannotRegisterANode() throws {
        let keys = try TestKeys()
        let h = try NodeHarness(keys: keys)
        let impostor = try ChildProcess(Binaries.zerotask, ["node", "--broker", h.broker.request, "--broker-publish", h.broker.publish,
            "--plugins", h.plugins, "--node-id", "impostor", "--workers", "1"] + Self.curveFlags(keys, secret: keys.secret("tenant-a")))
        defer { impostor.stop() }
        #expect(eventually(60) { impostor.output.contains("broker refused node_connect") }, "\(impostor.output)")
        #expect(impostor.output.contains("client 'tenant-a' may not call zerotask.broker.node_connect"), "\(impostor.output)")
        #expect(try h.client.result("nodes") == [])
    }

    /// Wrong key settings stop the node at start with the file named.
    @Test func aMissingOrHalfConfiguredKeyStopsTheNodeNamingIt() throws {
        let keys = try TestKeys()
        let missing = keys.dir + "/absent.key"
        let node = try ChildProcess(Binaries.zerotask, ["node", "--broker", "tcp://127.0.0.1:1", "--plugins", keys.dir,
            "--secret-key", missing, "--broker-key", keys.brokerPublic])
        #expect(node.waitForExit(seconds: 60) != 0)
        #expect(node.output.contains("\(missing): no such file"), "\(node.output)")
        let half = try ChildProcess(Binaries.zerotask, ["node", "--broker", "tcp://127.0.0.1:1", "--plugins", keys.dir,
            "--broker-key", keys.brokerPublic])
        #expect(half.waitForExit(seconds: 60) != 0)
        #expect(half.output.contains("security.secret_key"), "\(half.output)")
    }
}

/// `node.require_pins: true` (`--require-pins`): a plugin whose manifest pins no `sha256` is
/// quarantined, the node naming the plugin, its manifest and the hash to pin; a pinned copy of
/// the same plugin is served.
@Suite struct NodeRequirePinsTests {
    @Test func anUnpinnedPluginIsRefusedAndAPinnedOneServed() throws {
        let h = try NodeHarness(plugins: ["nodetest", "extra"])
        let library = h.plugins + "/nodetest.so"
        let hash = SHA256.hex(of: try Data(contentsOf: URL(fileURLWithPath: library)))
        // Pin nodetest; extra stays unpinned.
        let manifestPath = h.plugins + "/nodetest.json"
        let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try manifest.replacingOccurrences(of: #""name": "nodetest","#, with: #""name": "nodetest", "sha256": "\#(hash)","#)
            .write(toFile: manifestPath, atomically: true, encoding: .utf8)

        let node = try h.startNode(id: "pins", extra: ["--require-pins"])
        #expect(try h.outcome(try h.submit("nt.add", [2, 3])) == .success(5))
        #expect(eventually(30) { node.output.contains("plugin quarantined") }, "\(node.output)")
        let line = node.output.split(separator: "\n").first { $0.contains("plugin quarantined") } ?? ""
        #expect(line.contains("\(h.plugins)/extra.json: sha256: pins are required (node.require_pins) and plugin \"extra\" has no sha256 pin"), "\(line)")
        let extraHash = SHA256.hex(of: try Data(contentsOf: URL(fileURLWithPath: h.plugins + "/extra.so")))
        #expect(line.contains(extraHash), "\(line)")
        #expect(try !h.serves("extra.triple", node: "pins"))
        let e = try #require(try h.client.error("client_new_task", ["tester", "extra.triple", [1]]))
        #expect(e.message.contains("node.require_pins"), "\(e.message)")
    }
}
