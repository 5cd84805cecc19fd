import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// Top-level manifest fields. Method-level fields are in MethodManifestTests.
@Suite struct ManifestTests {
    static let method = #"{"name": "m.f", "symbol": "f"}"#

    func parse(_ text: String) throws(PluginProblem) -> Manifest {
        try Manifest.parse(Array(text.utf8), file: "dir/m.json")
    }

    func problem(_ text: String) -> PluginProblem? {
        do { _ = try parse(text); return nil } catch { return error }
    }

    @Test func fullManifestParses() throws {
        let m = try parse("""
            {"abi": 1, "name": "math", "version": "1.0.0", "description": "arith",
             "sha256": "\(String(repeating: "AB", count: 32))", "init": "math_init", "shutdown": "math_shutdown",
             "config": {"k": 1}, "methods": [\(Self.method)]}
            """)
        #expect(m.name == "math")
        #expect(m.version == "1.0.0")
        #expect(m.sha256 == String(repeating: "ab", count: 32))  // pins compare lowercased
        #expect(m.initSymbol == "math_init")
        #expect(m.shutdownSymbol == "math_shutdown")
        #expect(m.config == ["k": 1])
        #expect(m.methods.map(\.name) == ["m.f"])
    }

    @Test func configDefaultsToEmptyObject() throws {
        #expect(try parse(#"{"abi": 1, "name": "m", "methods": [\#(Self.method)]}"#).config == .object([:]))
    }

    @Test func badABIVersionNamesFileAndField() {
        let p = problem(#"{"abi": 2, "name": "m", "methods": [\#(Self.method)]}"#)
        #expect(p == PluginProblem(file: "dir/m.json", field: "abi", cause: "unsupported ABI version 2 (this host supports 1)"))
        #expect(p?.description == "dir/m.json: abi: unsupported ABI version 2 (this host supports 1)")
        #expect(problem(#"{"name": "m", "methods": [\#(Self.method)]}"#)?.field == "abi")
    }

    @Test func badPluginName() {
        let p = problem(#"{"abi": 1, "name": "9lives", "methods": [\#(Self.method)]}"#)
        #expect(p?.field == "name")
        #expect(p?.cause.hasPrefix("bad plugin name \"9lives\"") == true)
    }

    @Test func notJSONIsReported() {
        #expect(problem("{nope")?.cause.hasPrefix("the manifest is not valid JSON") == true)
        #expect(problem("[]")?.cause == "a manifest must be a JSON object, not array")
    }

    @Test func unknownTopLevelFieldIsAProblem() {
        let p = problem(#"{"abi": 1, "name": "m", "method": [], "methods": [\#(Self.method)]}"#)
        #expect(p?.field == "method")
        #expect(p?.cause.hasPrefix("unknown field") == true)
    }

    @Test func badPin() {
        let p = problem(#"{"abi": 1, "name": "m", "sha256": "xyz", "methods": [\#(Self.method)]}"#)
        #expect(p == PluginProblem(file: "dir/m.json", field: "sha256", cause: "must be 64 hex digits, not \"xyz\""))
    }

    @Test func badLifecycleSymbol() {
        #expect(problem(#"{"abi": 1, "name": "m", "init": "bad name", "methods": [\#(Self.method)]}"#)?.field == "init")
    }

    @Test func methodsMustBeANonEmptyArray() {
        #expect(problem(#"{"abi": 1, "name": "m"}"#) == PluginProblem(file: "dir/m.json", field: "methods", cause: "missing"))
        #expect(problem(#"{"abi": 1, "name": "m", "methods": []}"#)?.cause == "the plugin declares no methods")
    }

    @Test func duplicateMethodNameNamesTheMethod() {
        let p = problem(#"{"abi": 1, "name": "m", "methods": [\#(Self.method), \#(Self.method)]}"#)
        #expect(p == PluginProblem(file: "dir/m.json", method: "m.f", field: "methods[1].name", cause: "duplicate method name"))
    }
}
