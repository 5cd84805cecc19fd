import Foundation
import Logging
import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// A directory of plugins: bad ones are skipped with the right message, good ones load.
@Suite struct PluginSetTests {
    static let broken = ["lying", "initfail", "badabi", "badpin", "duplicate", "unknowntype", "reserved", "nomanifest", "zclash"]

    @Test func brokenPluginsAreSkippedAndGoodOnesLoad() throws {
        let (set, problems, dir) = try loadFixtures(["types", "jsonm", "embedded", "misbehave"] + Self.broken)
        #expect(set.plugins.map(\.name) == ["embedded", "jsonm", "misbehave", "types"])
        let byFile = Dictionary(problems.map { (URL(fileURLWithPath: $0.file).deletingPathExtension().lastPathComponent, $0) },
                                uniquingKeysWith: { a, _ in a })
        #expect(Set(byFile.keys) == Set(Self.broken))
        #expect(byFile["lying"]?.method == "lying.missing")
        #expect(byFile["initfail"]?.cause == "init failed (it returned 3)")
        #expect(byFile["badabi"]?.field == "abi")
        #expect(byFile["badpin"]?.field == "sha256")
        #expect(byFile["duplicate"]?.cause == "duplicate method name")
        #expect(byFile["unknowntype"]?.cause.hasPrefix("unknown type \"int128\"") == true)
        #expect(byFile["reserved"]?.method == "zerotask.broker.methods")
        #expect(byFile["nomanifest"]?.cause.hasPrefix("no manifest") == true)
        #expect(byFile["zclash"] == PluginProblem(file: "\(dir)/zclash.so", method: "types.int64", field: "name",
                                                  cause: "duplicate method name: plugin \"types\" already provides it"))
        // The good ones serve.
        #expect(set.method(named: "types.int64")?.invoke(.positional([5])) == .success(5))
        #expect(set.method(named: "lying.present") == nil)  // a plugin is skipped whole
        #expect(set.verdicts.count == 4 + Self.broken.count)
    }

    @Test func methodsListEveryMethodInOrder() throws {
        let (set, _, _) = try loadFixtures(["embedded", "misbehave"])
        #expect(set.methods.map(\.name) == ["embedded.square", "misbehave.hang", "misbehave.segfault", "misbehave.abort",
                                            "misbehave.exit", "misbehave.huge", "misbehave.sleep"])
        #expect(set.methods.first(where: { $0.name == "misbehave.hang" })?.timeout == 1)
        #expect(set.method(named: "nope") == nil)
    }

    @Test func hugeStringIsCopiedAndFreed() throws {
        let (set, _, _) = try loadFixtures(["misbehave"])
        let r = call(set, "misbehave.huge", [0])
        #expect(r.value?.stringValue?.utf8.count == 50 * 1024 * 1024)
    }

    @Test func strayManifestIsReported() throws {
        let dir = try PluginFixtures.makeDirectory(["embedded"])
        try FileManager.default.copyItem(atPath: "\(PluginFixtures.sourceDirectory)/types.json", toPath: "\(dir)/types.json")
        let (set, problems) = PluginSet.load(directory: dir, logger: quietLogger)
        #expect(set.plugins.count == 1)
        #expect(problems == [PluginProblem(file: "\(dir)/types.json", cause: "no types.so beside this manifest (not built?)")])
    }

    @Test func missingDirectoryIsOneProblem() {
        let (set, problems) = PluginSet.load(directory: "/nonexistent/plugins", logger: quietLogger)
        #expect(set.methods.isEmpty)
        #expect(problems.count == 1)
        #expect(problems.first?.file == "/nonexistent/plugins")
    }

    @Test func shutdownReachesEveryPlugin() throws {
        let dir = try PluginFixtures.makeDirectory(["configured", "types"])
        let marker = "\(dir)/marker"
        let (set, problems) = PluginSet.load(directory: dir, config: ["configured": ["marker": .string(marker)]], logger: quietLogger)
        #expect(problems.isEmpty)
        set.shutdown()
        #expect(FileManager.default.fileExists(atPath: marker))
    }
}
