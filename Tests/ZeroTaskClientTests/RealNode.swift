import Foundation
import ZeroMQ
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
    convenience init(broker: TestBroker, waitingFor method: String = "text.upper", extra: [String] = []) throws {
        try self.init(request: broker.request, publish: broker.publish, waitingFor: method, extra: extra)
    }

    /// Starts a node of the broker at `request` (a test broker or a `zerotask broker` process).
    init(request: String, publish: String, waitingFor method: String = "text.upper", extra: [String] = []) throws {
        process = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", request, "--broker-publish", publish, "--plugins", try Self.plugins.get(),
            "--workers", "1", "--http", "off",
        ] + extra)
        let peer = try TestPeer(endpoint: request, context: Self.context)
        guard eventually(60, { (try? peer.call("methods").outcome.get().arrayValue?.contains { $0["name"] == .string(method) }) == true }) else {
            process.stop()
            throw TestNode.NodeError("node did not advertise \(method); its output:\n\(process.output)")
        }
    }

    private static let context = ZMQContext()

    func stop() { process.stop() }
    deinit { process.stop() }
}
