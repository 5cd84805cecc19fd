import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// What `zerotask plugins check` and `plugins list` print.
@Suite struct PluginReportTests {
    @Test func checkPrintsAVerdictPerPluginAndFailsOnAnyProblem() throws {
        let (set, problems, dir) = try loadFixtures(["embedded", "badabi"])
        let (text, ok) = PluginReport.check(set, problems: problems)
        #expect(!ok)
        #expect(text == """
            FAIL  \(dir)/badabi.json: abi: unsupported ABI version 2 (this host supports 1)
            ok    embedded 0.1.0: 1 method (\(dir)/embedded.so)
            1 plugin loaded, 1 with problems
            """)
    }

    @Test func checkPassesWhenEverythingLoads() throws {
        let (set, problems, _) = try loadFixtures(["embedded"])
        #expect(PluginReport.check(set, problems: problems).ok)
    }

    @Test func checkReportsAMissingDirectory() {
        let (set, problems) = PluginSet.load(directory: "/nonexistent", logger: quietLogger)
        let (text, ok) = PluginReport.check(set, problems: problems)
        #expect(!ok)
        #expect(text.hasPrefix("FAIL  /nonexistent: cannot open directory"))
    }

    @Test func listShowsSignaturesAndDocs() throws {
        let (set, _, dir) = try loadFixtures(["embedded"])
        #expect(PluginReport.list(set, json: false) == """
            embedded 0.1.0  (\(dir)/embedded.so)
              embedded.square(x: int32) -> int64  x * x
            """)
        #expect(try JSONValue.parse(PluginReport.list(set, json: true)) == [[
            "name": "embedded.square", "plugin": "embedded", "abi": "c",
            "params": [["name": "x", "type": "int32"]], "returns": "int64", "doc": "x * x",
        ]])
    }
}
