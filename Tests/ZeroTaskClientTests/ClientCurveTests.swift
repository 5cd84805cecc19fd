import Foundation
import Testing
import ZeroMQ
import ZeroTaskClient
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The Swift client and the CLI against a broker with CURVE on (real keys on disk, real sockets):
/// an allowed client key is served; no key, an unknown key or the wrong broker key never gets an
/// answer; a key of another role is refused by method (-32040); key settings come from flags,
/// the configuration file or the environment, and a bad one is named.
@Suite struct ClientCurveTests {
    let cli: CLIRunner
    init() throws { cli = try CLIRunner() }

    @Test func theSwiftClientIsServedWithAnAllowedKeyOnly() async throws {
        let keys = try TestKeys()
        let broker = try TestBroker(security: try keys.security())
        let client = try await ZeroTaskClient(request: broker.request, clientID: "c1", requestTimeout: .seconds(10),
            curve: try keys.curve("tenant-a"))
        #expect(client.clientID == "c1")
        #expect(try await client.methods().isEmpty)
        await client.close()

        // No key, a key the broker does not know, an allowed key with the wrong broker key:
        // the handshake fails and nothing is ever answered.
        let wrongBroker = try CurveClientKeys(serverKey: try CurveKeyPair.generate().publicKey,
            keys: try CurveKeyFile.readSecret(keys.secret("tenant-a")))
        for curve in [nil, try CurveClientKeys(serverKey: keys.brokerPublic, secretKeyFile: try keys.stranger("mallory")), wrongBroker] {
            await #expect(throws: ZeroTaskClientError.brokerUnreachable(endpoint: broker.request, seconds: 1)) {
                _ = try await ZeroTaskClient(request: broker.request, requestTimeout: .seconds(1), curve: curve)
            }
        }
        // A node's key may not act as a client.
        do {
            _ = try await ZeroTaskClient(request: broker.request, requestTimeout: .seconds(10), curve: try keys.curve("n1"))
            Issue.record("a node key connected as a client")
        } catch ZeroTaskClientError.invalidRequest(let e) {
            #expect(e.code == ErrorCode.notAllowed.rawValue && e.message.contains("client_connect"), "\(e)")
        }
    }

    @Test func keysFromTheEnvironmentAndTheirErrors() throws {
        let keys = try TestKeys()
        let env = [CurveClientKeys.brokerKeyVariable: keys.brokerPublic, CurveClientKeys.secretKeyVariable: keys.secret("tenant-a")]
        #expect(try CurveClientKeys.environment(env) == (try keys.curve("tenant-a")))
        #expect(try CurveClientKeys.environment([:]) == nil)
        // The broker key may be given as the key itself.
        let inline = [CurveClientKeys.brokerKeyVariable: keys.broker.publicKey, CurveClientKeys.secretKeyVariable: keys.secret("tenant-a")]
        #expect(try CurveClientKeys.environment(inline)?.serverKey == keys.broker.publicKey)
        #expect(throws: ZeroTaskClientError.invalidArgument(
            "CURVE keys: \(CurveClientKeys.brokerKeyVariable): not set, but \(CurveClientKeys.secretKeyVariable) is: CURVE needs the broker's public key too")) {
            try CurveClientKeys.environment([CurveClientKeys.secretKeyVariable: keys.secret("tenant-a")])
        }
        let missing = keys.dir + "/nope.key"
        #expect(throws: ZeroTaskClientError.invalidArgument("CURVE keys: \(missing): no such file")) {
            try CurveClientKeys.environment([CurveClientKeys.brokerKeyVariable: keys.brokerPublic, CurveClientKeys.secretKeyVariable: missing])
        }
        // A public key file where the secret one belongs is named as such.
        #expect {
            try CurveClientKeys.environment([CurveClientKeys.brokerKeyVariable: keys.brokerPublic,
                CurveClientKeys.secretKeyVariable: keys.publicFile("tenant-a")])
        } throws: { error in
            guard case ZeroTaskClientError.invalidArgument(let text)? = error as? ZeroTaskClientError else { return false }
            return text.contains(keys.publicFile("tenant-a")) && text.contains("no 'secret-key' line")
        }
    }

    @Test func theCLITakesKeysFromFlagsTheFileAndTheEnvironment() async throws {
        let keys = try TestKeys()
        let broker = try TestBroker(security: try keys.security())
        let base = ["methods", "--broker", broker.request, "--timeout", "10"]
        let flags = try await cli.run(base + ["--secret-key", keys.secret("tenant-a"), "--broker-key", keys.brokerPublic])
        #expect(flags.status == 0, "\(flags.stderr)")
        let file = FixturePlugins.temporaryDirectory("zt-config") + "/zerotask.yaml"
        // Quoted: a Z85 key may begin with a character YAML reads as syntax (*, &, !, %, @, [, {).
        try "security:\n  secret_key: \(keys.secret("tenant-a"))\n  broker_key: '\(keys.broker.publicKey)'\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try await cli.run(base + ["--config", file])
        #expect(fromFile.status == 0, "\(fromFile.stderr)")
        let fromEnv = try await cli.run(base, environment: [
            "ZEROTASK_SECURITY_SECRET_KEY": keys.secret("tenant-a"), "ZEROTASK_SECURITY_BROKER_KEY": keys.brokerPublic])
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")

        // Without keys the broker never answers.
        let plain = try await cli.run(["methods", "--broker", broker.request, "--timeout", "1"])
        #expect(plain.status == 69, "\(plain.stderr)")
        // A node's key through the CLI: refused by role, and said so.
        let asNode = try await cli.run(base + ["--secret-key", keys.secret("n1"), "--broker-key", keys.brokerPublic])
        #expect(asNode.status != 0)
        #expect(asNode.stderr.contains("may not call zerotask.broker.client_connect") && asNode.stderr.contains("-32040"), "\(asNode.stderr)")
        // A key file that is not there, or only half the settings: named, exit 78.
        let missing = keys.dir + "/absent.key"
        let bad = try await cli.run(base + ["--secret-key", missing, "--broker-key", keys.brokerPublic])
        #expect(bad.status == 78)
        #expect(bad.stderr == "zerotask: configuration: security: \(missing): no such file\n", "\(bad.stderr)")
        let half = try await cli.run(base + ["--secret-key", keys.secret("tenant-a")])
        #expect(half.status == 78)
        #expect(half.stderr.contains("security.broker_key"), "\(half.stderr)")
    }
}
