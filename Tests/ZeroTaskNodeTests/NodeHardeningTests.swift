#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// What a node does about noisy plugins, dead predecessors, a silent broker and a wrong folder.
/// Real node processes and workers.
@Suite(.serialized) struct NodeHardeningTests {
    @Test func noisyPluginOutputIsRateLimitedAndEscaped() throws {
        let h = try NodeHarness()
        let node = try h.startNode(id: "noisy", workers: 1)
        // ~2 MB of output in one task: far over the budget.
        #expect(try h.outcome(try h.submit("nt.spew", [20_000])) == .success(20_000))
        #expect(try eventually(30) { node.output.contains("suppressed") }, "\(node.output.suffix(2000))")
        let out = node.output
        let logged = out.split(separator: "\n").filter { $0.contains("spew 0") }
        // Some lines got through, most did not, and the count of the rest is told.
        #expect(!logged.isEmpty && logged.count < 5_000, "\(logged.count) lines logged")
        let report = try #require(out.split(separator: "\n").first { $0.contains("suppressed") })
        #expect(report.contains("worker 1: suppressed") && report.contains("bytes of plugin output"), "\(report)")
        // The escape sequences arrive as text, never as raw control characters.
        #expect(logged.first?.contains("\\u{1B}[31mred") == true, "\(String(describing: logged.first))")
        #expect(!out.unicodeScalars.contains("\u{1B}"))
        #expect(try h.outcome(try h.submit("nt.add", [1, 1])) == .success(2))
    }

    @Test func aKilledNodesPrivatePluginFolderIsRemovedByTheNextStart() throws {
        let h = try NodeHarness()
        let first = try h.startNode(id: "doomed", workers: 1)
        let folder = NSTemporaryDirectory() + "zerotask-node-\(first.pid)"
        #expect(FileManager.default.fileExists(atPath: folder))
        first.signal(SIGKILL)
        #expect(first.waitForExit(seconds: 30) != nil)
        #expect(FileManager.default.fileExists(atPath: folder), "a killed node cleans up nothing itself")
        let second = try h.startNode(id: "next", workers: 1)
        #expect(try eventually(30) { !FileManager.default.fileExists(atPath: folder) }, "\(second.output)")
        // (Which node removed it, and so logged it, is not certain: any node the suite starts in
        // parallel cleans up after dead nodes too.)
        // Its own folder stays.
        #expect(FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "zerotask-node-\(second.pid)"))
    }

    @Test func aNodeWarnsSoonWhenItsBrokerDoesNotAnswer() throws {
        let plugins = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: plugins) }
        try FixturePlugins.compile("nodetest", from: NodeHarness.fixtures, into: plugins)
        // Nothing listens there; the request timeout (10 s) is far longer than two heartbeats.
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", try unusedEndpoint(), "--plugins", plugins, "--workers", "1", "--heartbeat-interval", "0.5",
        ])
        defer { node.stop() }
        #expect(try eventually(8) { node.output.contains("has not answered for") }, "\(node.output)")
        #expect(node.output.split(separator: "\n").filter { $0.contains("has not answered") }.count == 1)
    }

    @Test func aNodeOnAMissingPluginsFolderFailsNamingIt() throws {
        let missing = FixturePlugins.temporaryDirectory() + "/not-there"
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", try unusedEndpoint(), "--plugins", missing, "--workers", "1",
        ])
        let status = node.waitForExit(seconds: 30)
        #expect(status != nil && status != 0, "\(node.output)")
        #expect(node.output.contains("plugins folder \(missing) does not exist"), "\(node.output)")
    }
}
