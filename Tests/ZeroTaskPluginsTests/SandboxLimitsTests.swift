import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// A manifest's `limits`: per plugin, overridden per method field by field, checked with the
/// field named.
@Suite struct SandboxLimitsTests {
    func parse(_ limits: String, method: String = "") throws(PluginProblem) -> Manifest {
        try Manifest.parse(Array("""
            {"abi": 1, "name": "p", "limits": \(limits),
             "methods": [{"name": "p.a", "symbol": "a"\(method)}, {"name": "p.b", "symbol": "b"}]}
            """.utf8), file: "dir/p.json")
    }

    func problem(_ limits: String, method: String = "") -> PluginProblem? {
        do { _ = try parse(limits, method: method); return nil } catch { return error }
    }

    @Test func aMethodOverridesItsPluginsLimitsFieldByField() throws {
        let m = try parse(#"{"memory_mib": 256, "cpu_seconds": 10, "processes": 0, "network": false, "read": ["/usr/share/zoneinfo"], "write": []}"#,
                          method: #", "limits": {"memory_mib": 512, "network": true}"#)
        #expect(m.limits == SandboxLimits(memoryMiB: 256, cpuSeconds: 10, processes: 0, network: false,
                                          read: ["/usr/share/zoneinfo"], write: []))
        #expect(m.methods[0].limits == SandboxLimits(memoryMiB: 512, cpuSeconds: 10, processes: 0, network: true,
                                                     read: ["/usr/share/zoneinfo"], write: []))
        #expect(m.methods[1].limits == m.limits)
    }

    @Test func nothingDeclaredLeavesEveryFieldOpen() throws {
        let m = try Manifest.parse(Array(#"{"abi": 1, "name": "p", "methods": [{"name": "p.a", "symbol": "a"}]}"#.utf8), file: "p.json")
        #expect(m.methods[0].limits == SandboxLimits())
    }

    @Test func badLimitsNameTheField() {
        #expect(problem(#"{"memory_mib": "lots"}"#)?.field == "limits.memory_mib")
        #expect(problem(#"{"memory_mib": 0}"#)?.cause == "must be a whole number from 1, not 0")
        #expect(problem(#"{"processes": -1}"#)?.field == "limits.processes")
        #expect(problem(#"{"network": "no"}"#)?.field == "limits.network")
        #expect(problem(#"{"read": ["relative/path"]}"#)?.field == "limits.read[0]")
        #expect(problem(#"{"memroy_mib": 1}"#)?.cause.hasPrefix("unknown limit") == true)
        #expect(problem("[]")?.field == "limits")
        let p = problem("{}", method: #", "limits": {"cpu_seconds": 1.5}"#)
        #expect(p?.field == "methods[0].limits.cpu_seconds")
        #expect(p?.method == "p.a")
    }

    @Test func theJSONFormReadsBack() {
        let l = SandboxLimits(memoryMiB: 64, processes: 2, network: true, write: ["/tmp/x"])
        #expect(SandboxLimits(json: l.json) == l)
        #expect(SandboxLimits(json: .object([:])) == SandboxLimits())
    }
}
