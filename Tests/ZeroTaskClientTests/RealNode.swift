import Foundation
import ZeroTaskTestSupport

/// A real `zerotask node` process serving the example plugins of `Plugins/` (built once per test
/// process by `Plugins/build.sh`) to a test broker.
final class RealNode: @unchecked Sendable {
    let process: ChildProcess

    /// The example plugins, built into a temporary folder.
    static let plugins: Result<String, Error> = Result {
        let dir = FixturePlugins.temporaryDirectory("zt-example-plugins")
        try Command.run("/bin/bash", [Binaries.repositoryRoot + "/Plugins/build.sh", dir])
        return dir
    }

    /// Starts a node of `broker` and waits until the broker lists `method` (its plugins loaded).
    init(broker: TestBroker, waitingFor method: String = "text.upper", extra: [String] = []) throws {
        process = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", broker.request, "--broker-publish", broker.publish, "--plugins", try Self.plugins.get(),
            "--workers", "1", "--http", "off",
        ] + extra)
        let peer = try broker.peer()
        guard eventually(60, { (try? peer.call("methods").outcome.get().arrayValue?.contains { $0["name"] == .string(method) }) == true }) else {
            process.stop()
            throw TestNode.NodeError("node did not advertise \(method); its output:\n\(process.output)")
        }
    }

    func stop() { process.stop() }
    deinit { process.stop() }
}
