import Logging
import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// JSON-ABI methods and the zt_context callbacks: set_result, fail, progress, cancelled, log.
@Suite struct PluginCallContextTests {
    let set: PluginSet

    init() throws {
        let (set, problems, _) = try loadFixtures(["jsonm"])
        #expect(problems.isEmpty)
        self.set = set
    }

    @Test func setResultCarriesTheResult() throws {
        let m = try #require(set.method(named: "jsonm.echo"))
        #expect(m.invoke(.positional([1, "two", [3]])) == .success([1, "two", [3]]))
        #expect(m.invoke(.named(["values": [1.5, 2]])) == .success(["values": [1.5, 2]]))
        #expect(m.invoke(.positional([])) == .success([]))
        #expect(m.invoke(.positional(["ü🚀", .uint(UInt64.max)])) == .success(["ü🚀", .uint(UInt64.max)]))
    }

    @Test func jsonMethodParamsDeclaredInTheManifestAreCheckedBeforeTheCall() throws {
        let m = try #require(set.method(named: "jsonm.checked"))
        // What fits reaches the plugin as the caller wrote it.
        #expect(m.invoke(.positional([5, ["a"], 1.5, "AAE=", ["any": true]])) == .success([5, ["a"], 1.5, "AAE=", ["any": true]]))
        #expect(m.invoke(.named(["tags": [], "n": -1, "x": 2, "blob": "", "extra": nil])) == .success(["tags": [], "n": -1, "x": 2, "blob": "", "extra": nil]))
        // What does not is refused like a typed method's params, naming the param.
        let takes = "(n: int32, tags: array, x: number, blob: bytes, extra: any)"
        #expect(m.invoke(.positional([5])).error?.message == "jsonm.checked: expected 5 params \(takes), got 1")
        #expect(m.invoke(.positional([.int(1 << 40), [], 1, "", 0])).error?.message
            == "jsonm.checked: param \"n\" must be an integer in int32 range -2147483648...2147483647, not 1099511627776")
        #expect(m.invoke(.positional([1, "no", 1, "", 0])).error?.message == "jsonm.checked: param \"tags\" must be an array, not string")
        #expect(m.invoke(.positional([1, [], "1", "", 0])).error?.message == "jsonm.checked: param \"x\" must be a number, not string")
        #expect(m.invoke(.positional([1, [], 1, "%%%", 0])).error?.message.hasPrefix("jsonm.checked: param \"blob\" must be base64 bytes") == true)
        #expect(m.invoke(.named(["n": 1, "tags": [], "x": 1, "blob": "", "extra": 0, "more": 1])).error?.message
            == "jsonm.checked: unexpected param \"more\"; it takes \(takes)")
        #expect(m.invoke(.named(["n": 1])).error?.code == -32602)
    }

    @Test func failCarriesThePluginsCodeAndMessage() {
        #expect(call(set, "jsonm.fail", []) == .failure(RPCError(code: 4242, message: "the answer was refused")))
    }

    @Test func failWinsOverAResultAndAZeroReturn() {
        #expect(call(set, "jsonm.fail_then_zero", []) == .failure(RPCError(code: 7, message: "changed my mind")))
    }

    @Test func invalidJSONResultFailsClearly() throws {
        let e = try #require(call(set, "jsonm.bad_json", []).error)
        #expect(e.code == PluginMethod.failureCode)
        #expect(e.message.hasPrefix("jsonm.bad_json: set_result was given invalid JSON: unexpected end of input"))
    }

    @Test func nonZeroReturnWithoutFailIsAGenericFailure() {
        #expect(call(set, "jsonm.nonzero", []) == .failure(RPCError(code: -32000, message: "jsonm.nonzero failed (it returned 3 without a message)")))
    }

    @Test func noResultIsNull() {
        #expect(call(set, "jsonm.no_result", []) == .success(.null))
    }

    @Test func progressLogAndCancelledReachTheHost() {
        let host = RecordingHost()
        #expect(call(set, "jsonm.report", [], host: host) == .success(["ok": true, "abi": 1]))
        let log = host.log.withLock { $0 }
        #expect(log.progress.map(\.0) == [0.25, 1.0])  // 7.0 clamped
        #expect(log.progress.map(\.1) == ["a quarter", nil])
        #expect(log.lines.map(\.0) == [.warning])
        #expect(log.lines.map(\.1) == ["careful"])
        #expect(call(set, "jsonm.report", [], host: RecordingHost(cancelled: true)) == .success("cancelled"))
    }

    @Test func withoutAHostCallbacksAreHarmless() {
        #expect(call(set, "jsonm.report", []) == .success(["ok": true, "abi": 1]))
    }
}
