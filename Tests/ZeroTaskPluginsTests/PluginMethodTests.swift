import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// Every type round-trips through a real compiled C plugin at its limits.
@Suite struct PluginMethodTests {
    let set: PluginSet

    init() throws {
        let (set, problems, _) = try loadFixtures(["types"])
        #expect(problems.isEmpty)
        self.set = set
    }

    func roundTrip(_ method: String, _ values: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) {
        for v in values {
            #expect(call(set, method, [v]) == .success(v), "\(method)(\(v))", sourceLocation: sourceLocation)
        }
    }

    @Test func integersAtTheirLimits() {
        roundTrip("types.int8", [.int(-128), .int(127), .int(0), .int(-1)])
        roundTrip("types.int16", [.int(-32768), .int(32767)])
        roundTrip("types.int32", [.int(Int64(Int32.min)), .int(Int64(Int32.max))])
        roundTrip("types.int64", [.int(Int64.min), .int(Int64.max), .int(0)])
        roundTrip("types.uint8", [.int(0), .int(255)])
        roundTrip("types.uint16", [.int(0), .int(65535)])
        roundTrip("types.uint32", [.int(0), .int(Int64(UInt32.max))])
        roundTrip("types.uint64", [.int(0), .int(Int64.max), .uint(UInt64(Int64.max) + 1), .uint(UInt64.max)])
    }

    @Test func booleans() {
        roundTrip("types.bool", [.bool(true), .bool(false)])
    }

    @Test func smallReturnsAreNarrowedAfterWidening() {
        #expect(call(set, "types.minus_one_int8", []) == .success(.int(-1)))
        #expect(call(set, "types.max_uint16", []) == .success(.int(65535)))
        #expect(call(set, "types.true_bool", []) == .success(.bool(true)))
    }

    @Test func doublesIncludingNonFinite() {
        roundTrip("types.double", [.double(0), .double(-0.0), .double(1.5), .double(.greatestFiniteMagnitude),
                                   .double(.leastNonzeroMagnitude), .double(.infinity), .double(-.infinity)])
        #expect(call(set, "types.double", [.double(.nan)]).value?.doubleValue?.isNaN == true)
        // The strings JSONWriter writes for non-finite doubles are accepted back.
        #expect(call(set, "types.double", ["Infinity"]) == .success(.double(.infinity)))
        #expect(call(set, "types.double", ["-Infinity"]) == .success(.double(-.infinity)))
        #expect(call(set, "types.double", ["NaN"]).value?.doubleValue?.isNaN == true)
        #expect(call(set, "types.double", [.int(Int64.max)]) == .success(.double(9.223372036854775807e18)))
    }

    @Test func floatsIncludingNonFinite() {
        roundTrip("types.float", [.double(0.1), .double(-2.5), .double(3.4028235e38), .double(.infinity), .double(-.infinity)])
        #expect(call(set, "types.float", ["NaN"]).value?.doubleValue?.isNaN == true)
        #expect(call(set, "types.sum_float", [.double(0.1), .double(0.2)]) == .success(.double(0.3)))
    }

    @Test func nonFiniteResultsRoundTripThroughJSONText() throws {
        let result = try #require(call(set, "types.double", [.double(.infinity)]).value)
        let reparsed = try JSONValue.parse(result.jsonString)
        #expect(call(set, "types.double", [reparsed]) == .success(.double(.infinity)))
    }

    @Test func strings() {
        roundTrip("types.string", ["", "hello", "héllo wörld ✓ 日本語 🚀", .string(String(repeating: "z", count: 100_000))])
        roundTrip("types.dup", ["", "multi-byte: ü 🚀"])
        #expect(call(set, "types.null_string", []) == .success(.null))
    }

    @Test func ownedReturnsAreFreedWithThePluginsSymbol() {
        let before = call(set, "types.frees", []).value
        _ = call(set, "types.dup", ["x"])
        _ = call(set, "types.bytes", ["AAEC"])
        #expect(call(set, "types.frees", []).value == before.flatMap { $0.int64Value.map { .int($0 + 2) } })
    }

    @Test func bytes() {
        let binary = Base64.encode((0...255).map { UInt8($0) })
        roundTrip("types.bytes", ["", "AA==", .string(binary)])
        #expect(call(set, "types.bytes_length", [.string(binary)]) == .success(.int(256)))
        #expect(call(set, "types.bytes_length", [""]) == .success(.int(0)))
    }

    @Test func mixedWidthsLandInTheRightSlots() {
        let r = call(set, "types.mixed", [-7, 2.5, "s", "/w==", 1.5, .uint(UInt64.max), true])
        #expect(r == .success("a=-7 b=2.5 c=s d=1:ff ctx=ok e=1.5 f=18446744073709551615 g=1"))
    }

    @Test func voidReturnsNull() {
        #expect(call(set, "types.nothing", []) == .success(.null))
    }

    @Test func namedAndPositionalParamsAgree() throws {
        let m = try #require(set.method(named: "types.mixed"))
        let positional = m.invoke(.positional([1, 2.0, "x", "", 3.0, 4, false]))
        let named = m.invoke(.named(["g": false, "f": 4, "e": 3.0, "d": "", "c": "x", "b": 2.0, "a": 1]))
        #expect(positional == named)
        #expect(positional.value != nil)
    }

    @Test func paramsAsJSONText() throws {
        let m = try #require(set.method(named: "types.int64"))
        let r = Array("[-9223372036854775808]".utf8).withUnsafeBytes { m.invoke(paramsJSON: $0) }
        #expect(r == .success(.int(Int64.min)))
        let bad = Array("{\"x\":".utf8).withUnsafeBytes { m.invoke(paramsJSON: $0) }
        #expect(bad.error?.code == ErrorCode.parseError.rawValue)
        let scalar = Array("5".utf8).withUnsafeBytes { m.invoke(paramsJSON: $0) }
        #expect(scalar.error == .invalidParams("types.int64: params must be an array or an object, not integer"))
    }

    @Test func typedMethodCanFailAndReportThroughItsContext() {
        let host = RecordingHost()
        #expect(call(set, "types.checked_div", [7, 2], host: host) == .success(3))
        #expect(host.log.withLock { $0.progress.map(\.0) } == [1.0])
        #expect(call(set, "types.checked_div", [7, 0]) == .failure(RPCError(code: 22, message: "division by zero")))
        #expect(call(set, "types.is_cancelled", [], host: RecordingHost(cancelled: true)) == .success(true))
        #expect(call(set, "types.is_cancelled", []) == .success(false))
    }
}
