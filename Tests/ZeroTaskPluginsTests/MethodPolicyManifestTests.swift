import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// Retry, concurrency and rate in a manifest: per plugin for every method, per method over it,
/// advertised to the broker with the method.
@Suite struct MethodPolicyManifestTests {
    func manifest(_ top: String, _ methods: String) throws(PluginProblem) -> Manifest {
        try Manifest.parse(Array(#"{"abi": 1, "name": "p", \#(top) "methods": [\#(methods)]}"#.utf8), file: "p.json")
    }

    func problem(_ top: String, _ methods: String) -> PluginProblem? {
        do { _ = try manifest(top, methods); return nil } catch { return error }
    }

    @Test func aMethodsOwnFieldsOverridePluginDefaults() throws {
        let m = try manifest(#""retry": {"max_attempts": 3}, "concurrency": 8,"#, #"""
            {"name": "p.a", "symbol": "a"},
            {"name": "p.b", "symbol": "b", "concurrency": 2, "rate": "10/s"},
            {"name": "p.c", "symbol": "c", "retry": {"max_attempts": 5, "backoff": 0.5}, "rate": {"limit": "1/m", "burst": 4}}
            """#)
        #expect(m.policy == MethodPolicy(retry: RetryPolicy(maxAttempts: 3), concurrency: 8))
        #expect(m.methods[0].policy == m.policy)
        #expect(m.methods[1].policy == MethodPolicy(retry: RetryPolicy(maxAttempts: 3), concurrency: 2, rate: RateLimit(count: 10, per: 1)))
        #expect(m.methods[2].policy == MethodPolicy(retry: RetryPolicy(maxAttempts: 5, backoff: 0.5), concurrency: 8,
                                                    rate: RateLimit(count: 1, per: 60, burst: 4)))
    }

    @Test func nothingDeclaredIsNoPolicy() throws {
        let m = try manifest("", #"{"name": "p.a", "symbol": "a"}"#)
        #expect(m.methods[0].policy.isEmpty)
        #expect(MethodDescriptor(m.methods[0], plugin: "p").json.objectValue?["retry"] == nil)
    }

    @Test func problemsNameTheMethodAndTheField() {
        var p = problem("", #"{"name": "p.a", "symbol": "a", "concurrency": 0}"#)
        #expect(p?.method == "p.a")
        #expect(p?.field == "methods[0].concurrency")
        #expect(p?.cause == "must be a whole number from 1 to 1000000, not 0")
        p = problem("", #"{"name": "p.a", "symbol": "a"}, {"name": "p.b", "symbol": "b", "rate": "fast"}"#)
        #expect(p?.method == "p.b")
        #expect(p?.field == "methods[1].rate")
        #expect(p?.cause.contains(#"not "fast""#) == true)
        p = problem("", #"{"name": "p.a", "symbol": "a", "retry": {"max_attempts": 2, "backof": 1}}"#)
        #expect(p?.field == "methods[0].retry.backof")
        p = problem(#""rate": {"limit": "5/s", "burts": 2},"#, #"{"name": "p.a", "symbol": "a"}"#)
        #expect(p?.method == nil)
        #expect(p?.field == "rate.burts")
        #expect(p?.cause == "is not a rate setting (known: limit, burst)")
        #expect("\(p!)".contains("p.json"))
    }

    @Test func theAdvertisementCarriesThePolicyInTheFormItIsReadFrom() throws {
        let m = try manifest("", #"{"name": "p.a", "symbol": "a", "retry": {"max_attempts": 4, "codes": [7]}, "concurrency": 3, "rate": {"limit": "100/s", "burst": 10}}"#)
        let advertised = try #require(MethodDescriptor(m.methods[0], plugin: "p").json.objectValue)
        #expect(try MethodPolicy(reading: advertised, prefix: "methods[0]") == m.methods[0].policy)
        #expect(advertised["concurrency"] == .int(3))
        #expect(advertised["rate"] == .object(["limit": .string("100/s"), "burst": .int(10)]))
        let plain = MethodPolicy(rate: RateLimit(count: 0.5, per: 1))
        var o = JSONObject()
        plain.write(into: &o)
        #expect(o["rate"] == .string("0.5/s"))
        #expect(try MethodPolicy(reading: o, prefix: nil) == plain)
    }
}
