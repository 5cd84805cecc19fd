import Foundation
import Testing
import ZeroMQ

/// The keys a client socket connects with, from key files as `zerotask keys generate` writes them:
/// the server's key as a `.pub` file, a `.key` file or Z85 text; half a configuration or a bad
/// file is an error naming it.
@Suite struct CurveClientKeysTests {
    let dir = NSTemporaryDirectory() + "zt-client-keys-\(UUID().uuidString)"

    @Test func theServerKeyIsAFileOrTheKeyItself() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try CurveKeyPair.generate(), own = try CurveKeyPair.generate()
        let serverFiles = try CurveKeyFile.write(server, name: "broker", directory: dir)
        let ownFiles = try CurveKeyFile.write(own, name: "me", directory: dir)
        for given in [serverFiles.public, serverFiles.secret, server.publicKey] {
            let keys = try CurveClientKeys(serverKey: given, secretKeyFile: ownFiles.secret)
            #expect(keys.serverKey == server.publicKey && keys.keys == own, "\(given)")
        }
        // Not a file and not a key: named as the file it was taken for.
        let e = #expect(throws: CurveKeyFile.Problem.self) { try CurveClientKeys(serverKey: dir + "/nope.pub", secretKeyFile: ownFiles.secret) }
        #expect(e?.description == "\(dir)/nope.pub: no such file")
        // A public key file where the secret one belongs.
        let p = #expect(throws: CurveKeyFile.Problem.self) { try CurveClientKeys(serverKey: serverFiles.public, secretKeyFile: ownFiles.public) }
        #expect(p?.path == ownFiles.public)
        #expect(throws: ZMQError.self) { try CurveClientKeys(serverKey: "short", keys: own) }
    }

    @Test func bothSettingsOrNeither() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let files = try CurveKeyFile.write(try CurveKeyPair.generate(), name: "me", directory: dir)
        let names = (serverKey: "B", secretKeyFile: "S")
        #expect(try CurveClientKeys.configured(serverKey: nil, secretKeyFile: "", names: names) == nil)
        #expect(try CurveClientKeys.configured(serverKey: files.public, secretKeyFile: files.secret, names: names) != nil)
        let noServer = #expect(throws: CurveKeyFile.Problem.self) {
            try CurveClientKeys.configured(serverKey: "", secretKeyFile: files.secret, names: names)
        }
        #expect(noServer?.path == "B")
        let noSecret = #expect(throws: CurveKeyFile.Problem.self) {
            try CurveClientKeys.configured(serverKey: files.public, secretKeyFile: nil, names: names)
        }
        #expect(noSecret?.path == "S")
    }
}
