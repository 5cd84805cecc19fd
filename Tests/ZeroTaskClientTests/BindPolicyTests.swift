import Foundation
import Testing
import ZeroTaskTestSupport

/// Safe without keys: a broker without CURVE binds this machine only. Any other address needs
/// `--insecure` (or `security.insecure: true`), which is warned about at start; with keys, every
/// interface is fine. Through the real executable.
@Suite struct BindPolicyTests {
    /// An address on every interface, on a port nothing listens on.
    static func everyInterface() throws -> String {
        try unusedEndpoint().replacingOccurrences(of: "127.0.0.1", with: "0.0.0.0")
    }

    /// Starts a broker with `args`, waits until it listens or exits, stops it; its output.
    static func start(_ args: [String], environment: [String: String] = [:]) throws -> (listened: Bool, output: String) {
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory"] + args, environment: environment)
        defer { broker.stop() }
        _ = eventually(60) { broker.output.contains("broker listening") || !broker.isRunning }
        return (broker.output.contains("broker listening"), broker.output)
    }

    @Test func withoutKeysAWiderBindNeedsInsecureAndIsWarnedAbout() throws {
        let wide = try Self.everyInterface()
        let refused = try Self.start(["--request", wide, "--publish", try unusedEndpoint()])
        #expect(!refused.listened)
        #expect(refused.output.contains("broker.request \(wide) reaches beyond this machine without keys"), "\(refused.output)")
        #expect(refused.output.contains("--insecure"), "\(refused.output)")

        let flagged = try Self.start(["--request", try Self.everyInterface(), "--publish", try unusedEndpoint(), "--insecure"])
        #expect(flagged.listened, "\(flagged.output)")
        #expect(flagged.output.contains("INSECURE: broker.request"), "\(flagged.output)")

        let file = FixturePlugins.temporaryDirectory("zt-config") + "/zerotask.yaml"
        try "security:\n  insecure: true\n".write(toFile: file, atomically: true, encoding: .utf8)
        let configured = try Self.start(["--config", file, "--request", try unusedEndpoint(), "--publish", try Self.everyInterface()])
        #expect(configured.listened, "\(configured.output)")
        #expect(configured.output.contains("INSECURE: broker.publish"), "\(configured.output)")

        // The node's built-in broker follows the same rule.
        let node = try ChildProcess(Binaries.zerotask, ["node", "--broker", "builtin", "--store", "memory", "--plugins", file,
            "--request", try Self.everyInterface(), "--publish", try unusedEndpoint()])
        defer { node.stop() }
        #expect(node.waitForExit(seconds: 60) != 0)
        #expect(node.output.contains("reaches beyond this machine without keys"), "\(node.output)")
    }

    @Test func withKeysEveryInterfaceIsFine() throws {
        let keys = try TestKeys()
        let secured = try Self.start(["--request", try Self.everyInterface(), "--publish", try Self.everyInterface(),
            "--secret-key", keys.brokerSecret, "--keys-dir", keys.keysDir])
        #expect(secured.listened, "\(secured.output)")
        #expect(!secured.output.contains("INSECURE"), "\(secured.output)")
    }

    @Test func theHTTPEndpointBeyondLoopbackNeedsInsecureEvenWithKeys() throws {
        // It asks no credential yet: keys on the ZeroMQ sockets do not protect it.
        let keys = try TestKeys()
        let port = try unusedEndpoint().split(separator: ":").last!
        let secured = ["--secret-key", keys.brokerSecret, "--keys-dir", keys.keysDir, "--request", try unusedEndpoint(),
                       "--publish", try unusedEndpoint(), "--http", "http://0.0.0.0:\(port)"]
        let refused = try Self.start(secured)
        #expect(!refused.listened)
        #expect(refused.output.contains("broker.http http://0.0.0.0:\(port) reaches beyond this machine"), "\(refused.output)")
        let flagged = try Self.start(secured + ["--insecure"])
        #expect(flagged.listened, "\(flagged.output)")
        #expect(flagged.output.contains("INSECURE: broker.http"), "\(flagged.output)")
    }

    @Test func theDefaultsAreLoopbackWithoutKeys() throws {
        let help = try ChildProcess(Binaries.zerotask, ["broker", "--help"])
        #expect(help.waitForExit(seconds: 60) == 0)
        let text = help.output.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ")
        #expect(text.contains("[tcp://127.0.0.1:5555; with keys tcp://*:5555]"), "\(help.output)")
        #expect(text.contains("[tcp://127.0.0.1:5556; with keys tcp://*:5556]"), "\(help.output)")
    }
}
