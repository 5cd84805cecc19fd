import Foundation
import Testing
import ZeroMQ

/// `zerotask keys generate` through the real executable.
@Suite struct KeysCommandTests {
    @Test func generateWritesAPairThatBelongsTogetherAndWillNotOverwriteIt() async throws {
        let dir = NSTemporaryDirectory() + "zt-keys-cli-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = try CLIRunner()
        let made = try await cli.run(["keys", "generate", "tenant-a", "--dir", dir + "/clients"])
        #expect(made.status == 0, "\(made.stderr)")
        let keys = try CurveKeyFile.readSecret(dir + "/clients/tenant-a.key")
        #expect(try CurveKeyFile.readPublic(dir + "/clients/tenant-a.pub") == keys.publicKey)
        #expect(made.stdout.contains(keys.publicKey) && !made.stdout.contains(keys.secretKey))
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/clients/tenant-a.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let again = try await cli.run(["keys", "generate", "tenant-a", "--dir", dir + "/clients"])
        #expect(again.status == 64)
        #expect(again.stderr.contains("tenant-a.key: already exists"))
        #expect(try CurveKeyFile.readSecret(dir + "/clients/tenant-a.key") == keys)

        let bad = try await cli.run(["keys", "generate", "../escape", "--dir", dir])
        #expect(bad.status == 64)
        #expect(!FileManager.default.fileExists(atPath: dir + "/../escape.key"))
    }
}
