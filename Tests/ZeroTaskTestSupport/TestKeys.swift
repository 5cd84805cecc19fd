import Foundation
import Logging
import ZeroMQ
import ZeroTaskBroker

/// Real CURVE keys on disk for one test, laid out as a deployment has them: the broker's
/// `broker.key`/`broker.pub` at the top, and each peer's `NAME.key` and `NAME.pub` in the
/// broker's role folder (`keys/clients`, `keys/nodes`, `keys/admins`), which the broker reads.
public final class TestKeys: @unchecked Sendable {
    public let dir = FixturePlugins.temporaryDirectory("zt-keys")
    public let broker: CurveKeyPair
    private var roles: [String: PeerRole] = [:]

    /// The broker's key pair and one key per `(name, role)`.
    public init(_ peers: [(String, PeerRole)] = [("tenant-a", .client), ("n1", .node), ("ops", .admin)]) throws {
        broker = try CurveKeyPair.generate()
        try CurveKeyFile.write(broker, name: "broker", directory: dir)
        for (name, role) in peers { try add(name, role) }
    }

    /// Writes a new key for `name` into `role`'s folder.
    @discardableResult
    public func add(_ name: String, _ role: PeerRole) throws -> CurveKeyPair {
        let keys = try CurveKeyPair.generate()
        try CurveKeyFile.write(keys, name: name, directory: folder(role))
        roles[name] = role
        return keys
    }

    /// A key pair the broker has never seen, written to `outsiders/NAME.key`.
    public func stranger(_ name: String) throws -> String {
        try CurveKeyFile.write(try CurveKeyPair.generate(), name: name, directory: dir + "/outsiders").secret
    }

    public var keysDir: String { dir + "/keys" }
    public var brokerSecret: String { dir + "/broker.key" }
    public var brokerPublic: String { dir + "/broker.pub" }
    public func folder(_ role: PeerRole) -> String { keysDir + "/" + role.folder }

    /// `NAME.key` of a peer added with `add`.
    public func secret(_ name: String) -> String { folder(roles[name]!) + "/\(name).key" }
    /// `NAME.pub` of a peer added with `add` (what the broker allows).
    public func publicFile(_ name: String) -> String { folder(roles[name]!) + "/\(name).pub" }

    /// What a peer named `name` connects with.
    public func curve(_ name: String) throws -> CurveClientKeys {
        try CurveClientKeys(serverKey: brokerPublic, secretKeyFile: secret(name))
    }

    /// The broker's side: its key pair and the folders of allowed keys.
    public func security() throws -> BrokerSecurity {
        BrokerSecurity(keys: broker, peers: try PeerKeys(directory: keysDir, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }
}
