#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A plugin that crashes whatever loads it (a truncated `.so`: SIGBUS) is quarantined: the node
/// serves the rest, says once which file and why, and callers of its methods are told so.
/// Real node, real workers, real probes, plugins compiled from C.
@Suite(.serialized) struct NodeQuarantineTests {
    /// The first half of a compiled `extra.so` (the mapping runs past the end of the file).
    static func truncatedExtra() throws -> Data {
        let build = FixturePlugins.temporaryDirectory("zt-build")
        defer { try? FileManager.default.removeItem(atPath: build) }
        try FixturePlugins.compile("extra", from: NodeHarness.fixtures, into: build)
        let full = try Data(contentsOf: URL(fileURLWithPath: build + "/extra.so"))
        return full.prefix(full.count / 2)
    }

    static func quarantineLines(_ output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.contains("plugin quarantined") }
    }

    @Test func aTruncatedPluginIsQuarantinedAndTheOthersAreServed() throws {
        let h = try NodeHarness(plugins: ["nodetest"])
        try FileManager.default.copyItem(atPath: NodeHarness.fixtures + "/extra.json", toPath: h.plugins + "/extra.json")
        try Self.truncatedExtra().write(to: URL(fileURLWithPath: h.plugins + "/extra.so"))
        let node = try h.startNode(id: "q1", workers: 2)
        #expect(try h.outcome(try h.submit("nt.add", [2, 3])) == .success(5))
        #expect(try !h.serves("extra.triple", node: "q1"))

        // One line, naming the file in the plugins folder (not the node's private copy) and the signal.
        #expect(try eventually(30) { Self.quarantineLines(node.output).count == 1 }, "\(node.output)")
        let line = try #require(Self.quarantineLines(node.output).first)
        #expect(line.contains("\(h.plugins)/extra.so: crashed while loading (signal SIGBUS)"), "\(line)")
        #expect(line.contains("extra.triple"), "\(line)")
        #expect(!line.contains("zerotask-node-"), "\(line)")

        // The caller learns which plugin and why, at submission.
        let e = try #require(try h.client.error("client_new_task", ["tester", "extra.triple", [1]]))
        #expect(e.code == ErrorCode.methodNotFound.rawValue)
        #expect(e.message.contains("plugin \"extra\"") && e.message.contains("SIGBUS"), "\(e.message)")
        #expect(e.data?["file"] == .string(h.plugins + "/extra.so"), "\(e)")
        // `methods` lists it with the reason and no node.
        let listed = try h.client.result("methods").arrayValue?.first { $0["name"] == "extra.triple" }
        #expect(listed?["nodes"] == .array([]), "\(String(describing: listed))")
        #expect(listed?["unavailable"]?.arrayValue?.first?["node_id"] == "q1", "\(String(describing: listed))")

        // The CLI: `call` fails at once with the reason (not "no node serves"), `methods` says why.
        let call = try ChildProcess(Binaries.zerotask, ["call", "--broker", h.broker.request, "extra.triple", "1"])
        #expect(call.waitForExit(seconds: 60) == 69, "\(call.output)")
        #expect(call.output.contains("method extra.triple is unavailable: plugin \"extra\" is not loaded on node q1"), "\(call.output)")
        let methods = try ChildProcess(Binaries.zerotask, ["methods", "--broker", h.broker.request])
        #expect(methods.waitForExit(seconds: 60) == 0, "\(methods.output)")
        #expect(methods.output.split(separator: "\n").contains { $0.hasPrefix("extra.triple") && $0.contains("UNAVAILABLE (quarantined:") },
                "\(methods.output)")

        // No worker died loading plugins: the probe took the crash, once.
        #expect(!node.output.contains("died while loading plugins"), "\(node.output)")
        Thread.sleep(forTimeInterval: 1.5)  // a few reload checks: the verdict is remembered, not probed again
        #expect(Self.quarantineLines(node.output).count == 1, "\(node.output)")
        #expect(node.isRunning)
    }

    @Test func aPluginOverwrittenSlowlyInPlaceNeverTakesTheNodeDown() throws {
        let h = try NodeHarness(plugins: ["nodetest", "extra"])
        let node = try h.startNode(id: "q2", workers: 2, waitFor: "extra.triple")
        let good = try Data(contentsOf: URL(fileURLWithPath: h.plugins + "/extra.so"))
        // A slow, non-atomic copy over the live plugin: half of it, a pause, then the rest.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: h.plugins + "/extra.so"))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: good.prefix(good.count / 2))
        try handle.synchronize()
        // Longer than the settle time and the reload interval: the half file is taken and probed.
        #expect(try eventually(30) { Self.quarantineLines(node.output).count == 1 }, "\(node.output)")
        #expect(try eventually(30) { try !h.serves("extra.triple", node: "q2") })
        #expect(try h.outcome(try h.submit("nt.add", [20, 22])) == .success(42))

        try handle.write(contentsOf: good.suffix(from: good.count / 2))
        try handle.close()
        // Whole again: probed again, and served again.
        #expect(try eventually(30) { try h.serves("extra.triple", node: "q2") }, "\(node.output)")
        #expect(try h.outcome(try h.submit("extra.triple", [14])) == .success(42))
        #expect(!node.output.contains("died while loading plugins"), "\(node.output)")
        #expect(Self.quarantineLines(node.output).count == 1, "\(node.output)")
    }

    @Test func pluginsCheckGivesACrashingPluginAVerdictAndFailsOnAnEmptyFolder() throws {
        let dir = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FixturePlugins.compile("nodetest", from: NodeHarness.fixtures, into: dir)
        try FileManager.default.copyItem(atPath: NodeHarness.fixtures + "/extra.json", toPath: dir + "/extra.json")
        try Self.truncatedExtra().write(to: URL(fileURLWithPath: dir + "/extra.so"))
        let check = try ChildProcess(Binaries.zerotask, ["plugins", "check", dir])
        #expect(check.waitForExit(seconds: 60) == 1, "\(check.output)")
        #expect(check.output.contains("FAIL  \(dir)/extra.so: crashed while loading (signal SIGBUS)"), "\(check.output)")
        #expect(check.output.contains("ok    nodetest"), "\(check.output)")
        let list = try ChildProcess(Binaries.zerotask, ["plugins", "list", dir])
        #expect(list.waitForExit(seconds: 60) == 0, "\(list.output)")
        #expect(list.output.contains("nt.add("), "\(list.output)")

        let empty = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let none = try ChildProcess(Binaries.zerotask, ["plugins", "check", empty])
        #expect(none.waitForExit(seconds: 60) == 1, "\(none.output)")
        #expect(none.output.contains("no plugins found"), "\(none.output)")
    }

    @Test func aPluginWhoseLoadFailsIsQuarantinedWithTheSymbolItMisses() throws {
        let h = try NodeHarness(plugins: ["nodetest"])
        // A manifest naming a symbol the library does not export.
        try FixturePlugins.compile("extra", from: NodeHarness.fixtures, into: h.plugins)
        try #"{"abi": 1, "name": "extra", "methods": [{"name": "extra.missing", "symbol": "no_such_symbol", "returns": "int64"}]}"#
            .write(toFile: h.plugins + "/extra.json", atomically: true, encoding: .utf8)
        let node = try h.startNode(id: "q3", workers: 1)
        #expect(try eventually(30) { Self.quarantineLines(node.output).count == 1 }, "\(node.output)")
        let line = try #require(Self.quarantineLines(node.output).first)
        #expect(line.contains("\(h.plugins)/extra.json: method \"extra.missing\": methods[0].symbol: symbol \"no_such_symbol\" not found"), "\(line)")
        let e = try #require(try h.client.error("client_new_task", ["tester", "extra.missing", []]))
        #expect(e.message.contains("no_such_symbol"), "\(e.message)")
    }
}
