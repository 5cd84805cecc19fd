import Foundation
import Logging
import Testing
@testable import ZeroTaskPlugins
import ZeroTaskProtocol

/// One plugin at a time: manifests from files and from the library, pins, init and config.
@Suite struct PluginLoaderTests {
    let loader = PluginLoader(logger: quietLogger)

    func loadProblem(_ fixture: String, loader: PluginLoader? = nil) throws -> PluginProblem? {
        let dir = try PluginFixtures.makeDirectory([fixture])
        do {
            _ = try (loader ?? self.loader).load(path: "\(dir)/\(fixture).so")
            return nil
        } catch {
            return error
        }
    }

    @Test func embeddedManifestIsRead() throws {
        let dir = try PluginFixtures.makeDirectory(["embedded"])
        let plugin = try loader.load(path: "\(dir)/embedded.so")
        #expect(plugin.name == "embedded")
        #expect(plugin.version == "0.1.0")
        #expect(plugin.manifestSource == "embedded")
        #expect(plugin.methods.map(\.descriptor.signature) == ["embedded.square(x: int32) -> int64"])
        #expect(plugin.methods[0].invoke(.positional([.int(Int64(Int32.min))])) == .success(.int(4_611_686_018_427_387_904)))
    }

    @Test func missingSymbolNamesMethodAndSymbol() throws {
        let p = try #require(try loadProblem("lying"))
        #expect(p.file.hasSuffix("/lying.json"))
        #expect(p.method == "lying.missing")
        #expect(p.field == "methods[1].symbol")
        #expect(p.cause.hasPrefix("symbol \"not_exported\" not found in "))
    }

    @Test func noManifestAtAll() throws {
        let p = try #require(try loadProblem("nomanifest"))
        #expect(p.cause.hasPrefix("no manifest: neither "))
        #expect(p.cause.hasSuffix("nor an exported zerotask_manifest"))
    }

    @Test func initFailureSkipsThePlugin() throws {
        let p = try #require(try loadProblem("initfail"))
        #expect(p.field == "init")
        #expect(p.cause == "init failed (it returned 3)")
    }

    @Test func badABIVersion() throws {
        #expect(try loadProblem("badabi")?.description.hasSuffix("badabi.json: abi: unsupported ABI version 2 (this host supports 1)") == true)
    }

    @Test func unknownTypeAndDuplicateAndReserved() throws {
        #expect(try loadProblem("unknowntype")?.field == "methods[0].params[0].type")
        #expect(try loadProblem("duplicate")?.cause == "duplicate method name")
        #expect(try loadProblem("reserved")?.cause == "the \"zerotask.\" namespace is reserved")
    }

    @Test func badPinIsRefusedBeforeLoading() throws {
        let p = try #require(try loadProblem("badpin"))
        #expect(p.field == "sha256")
        #expect(p.cause.hasPrefix("pin mismatch: the manifest pins 0000000000000000000000000000000000000000000000000000000000000000, the file hashes to "))
    }

    @Test func goodPinLoads() throws {
        let dir = try PluginFixtures.makeDirectory(["embedded"])
        let so = "\(dir)/embedded.so"
        let hash = SHA256.hex(of: [UInt8](try Data(contentsOf: URL(fileURLWithPath: so))))
        #expect(try shellOutput("sha256sum \(so)").hasPrefix(hash))
        let manifest = #"{"abi": 1, "name": "pinned", "sha256": "\#(hash.uppercased())", "methods": [{"name": "pinned.sq", "symbol": "square", "params": [{"name": "x", "type": "int32"}], "returns": "int64"}]}"#
        try manifest.write(toFile: "\(dir)/embedded.json", atomically: true, encoding: .utf8)
        let plugin = try loader.load(path: so)
        #expect(plugin.name == "pinned")
        #expect(plugin.methods[0].invoke(.positional([12])) == .success(144))
        // One byte changed in the library: refused. (Written to a new file and renamed over the
        // old one: rewriting a mapped library in place would corrupt the loaded copy.)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: so)))
        bytes[bytes.count - 1] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: so), options: .atomic)
        #expect(throws: PluginProblem.self) { try loader.load(path: so) }
    }

    @Test func initReceivesManifestConfigOverriddenByTheHost() throws {
        let dir = try PluginFixtures.makeDirectory(["configured"])
        let plain = try loader.load(path: "\(dir)/configured.so")
        #expect(plain.config == ["greeting": "hello", "level": 1])
        let seen = try #require(plain.methods[0].invoke(.none).value?.stringValue)
        #expect(try JSONValue.parse(seen) == ["greeting": "hello", "level": 1])

        let other = try PluginFixtures.makeDirectory(["configured"])
        let overriding = PluginLoader(config: ["configured": ["level": 5, "extra": true]], logger: quietLogger)
        let plugin = try overriding.load(path: "\(other)/configured.so")
        let merged = try #require(plugin.methods[0].invoke(.none).value?.stringValue)
        #expect(try JSONValue.parse(merged) == ["greeting": "hello", "level": 5, "extra": true])
    }

    @Test func shutdownRunsOnce() throws {
        let dir = try PluginFixtures.makeDirectory(["configured"])
        let marker = "\(dir)/marker"
        let plugin = try PluginLoader(config: ["configured": ["marker": .string(marker)]], logger: quietLogger)
            .load(path: "\(dir)/configured.so")
        #expect(!FileManager.default.fileExists(atPath: marker))
        plugin.shutdown()
        #expect(FileManager.default.fileExists(atPath: marker))
        try FileManager.default.removeItem(atPath: marker)
        plugin.shutdown()
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func configMerge() {
        #expect(PluginLoader.merge(["a": 1, "b": 2], ["b": 3]) == ["a": 1, "b": 3])
        #expect(PluginLoader.merge(["a": 1], nil) == ["a": 1])
        #expect(PluginLoader.merge(["a": 1], "x") == "x")
    }

    @Test func notALibrary() throws {
        let dir = PluginFixtures.makeTemporaryDirectory()
        try "not ELF".write(toFile: "\(dir)/junk.so", atomically: true, encoding: .utf8)
        #expect(throws: PluginProblem.self) { try loader.load(path: "\(dir)/junk.so") }
        do { _ = try loader.load(path: "\(dir)/junk.so") } catch { #expect(error.cause.hasPrefix("cannot load: ")) }
    }
}
