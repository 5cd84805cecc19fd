import Foundation
import Logging
import Testing
import ZeroMQ
@testable import ZeroTaskBroker

/// The broker's keys folder: roles by folder, names by file, changes seen without a restart.
@Suite struct PeerKeysTests {
    let dir = NSTemporaryDirectory() + "zt-peerkeys-\(UUID().uuidString)"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func add(_ name: String, _ role: PeerRole) throws -> CurveKeyPair {
        let keys = try CurveKeyPair.generate()
        try CurveKeyFile.write(keys, name: name, directory: dir + "/" + role.folder)
        return keys
    }

    func curve(_ key: String) -> ZAPRequest { ZAPRequest(domain: "zerotask", address: "127.0.0.1", mechanism: "CURVE", publicKey: key) }

    @Test func eachFolderGivesItsRoleAndEachFileItsName() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try add("tenant-a", .client), n = try add("n1", .node), root = try add("ops", .admin)
        let keys = try PeerKeys(directory: dir, logger: quiet)
        #expect(keys.identity(of: a.publicKey) == PeerIdentity(role: .client, name: "tenant-a"))
        #expect(keys.identity(of: n.publicKey) == PeerIdentity(role: .node, name: "n1"))
        #expect(keys.identity(of: root.publicKey) == PeerIdentity(role: .admin, name: "ops"))
        #expect(keys.authorize(curve(a.publicKey)) == .allow(userID: "client:tenant-a"))
        #expect(PeerIdentity(userID: "client:tenant-a") == PeerIdentity(role: .client, name: "tenant-a"))
        #expect(PeerIdentity(userID: "nobody") == nil)
        // The secret halves in those folders are never needed, and never make a key allowed.
        #expect(keys.identity(of: a.secretKey) == nil)
    }

    @Test func unknownKeysAndNullPeersAreRefused() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try add("tenant-a", .client)
        let keys = try PeerKeys(directory: dir, logger: quiet)
        guard case .deny = keys.authorize(curve(try CurveKeyPair.generate().publicKey)) else { Issue.record("unknown key allowed"); return }
        guard case .deny = keys.authorize(ZAPRequest(domain: "zerotask", address: "127.0.0.1", mechanism: "NULL")) else {
            Issue.record("NULL allowed"); return
        }
    }

    @Test func keysAddedOrRemovedTakeEffectWithoutARestart() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try add("first", .client)
        let keys = try PeerKeys(directory: dir, logger: quiet)
        let later = try add("later", .node)
        #expect(keys.identity(of: later.publicKey) == PeerIdentity(role: .node, name: "later"))
        try FileManager.default.removeItem(atPath: dir + "/nodes/later.pub")
        #expect(keys.identity(of: later.publicKey) == nil)
    }

    @Test func oneKeyInTwoFoldersIsNeither() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let k = try add("who", .client)
        try FileManager.default.createDirectory(atPath: dir + "/admins", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir + "/clients/who.pub", toPath: dir + "/admins/who.pub")
        let keys = try PeerKeys(directory: dir, logger: quiet)
        #expect(keys.identity(of: k.publicKey) == nil)
    }

    @Test func aClientKeyWhoseNameCannotBeATenantIsSkipped() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ':' ends the tenant in the broker's ids ("TENANT:ID"): such a name would be ambiguous.
        let bad = try add("acme:x", .client), long = try add(String(repeating: "a", count: 65), .client)
        let good = try add("acme", .client), node = try add("rack:1", .node)
        let keys = try PeerKeys(directory: dir, logger: quiet)
        #expect(keys.identity(of: bad.publicKey) == nil && keys.identity(of: long.publicKey) == nil)
        #expect(keys.identity(of: good.publicKey) == PeerIdentity(role: .client, name: "acme"))
        #expect(keys.identity(of: node.publicKey) == PeerIdentity(role: .node, name: "rack:1"))
    }

    @Test func aMissingFolderIsAnErrorNamingIt() {
        let e = #expect(throws: CurveKeyFile.Problem.self) { try PeerKeys(directory: dir + "/nope", logger: quiet) }
        #expect(e?.path == dir + "/nope")
        #expect(e?.description.contains("no such keys folder") == true)
    }
}
