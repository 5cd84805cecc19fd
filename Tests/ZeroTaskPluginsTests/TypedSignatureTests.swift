import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// Each invalid param gives its precise -32602 error, and never reaches native code.
@Suite struct TypedSignatureTests {
    let set: PluginSet

    init() throws {
        let (set, problems, _) = try loadFixtures(["types"])
        #expect(problems.isEmpty)
        self.set = set
    }

    /// The error of invoking `method` with `params`, checking that the plugin saw no call.
    func rejection(_ method: String, _ params: Params, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let calls = call(set, "types.calls", []).value
        let r = set.method(named: method)?.invoke(params)
        #expect(call(set, "types.calls", []).value == calls, "the native function must not run", sourceLocation: sourceLocation)
        guard let e = r?.error else { return nil }
        #expect(e.code == -32602, sourceLocation: sourceLocation)
        return e.message
    }

    func rejection(_ method: String, _ params: [JSONValue], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        rejection(method, .positional(params), sourceLocation: sourceLocation)
    }

    @Test func wrongCount() {
        #expect(rejection("types.int8", []) == "types.int8: expected 1 param (x: int8), got 0")
        #expect(rejection("types.sum_float", [1, 2, 3]) == "types.sum_float: expected 2 params (a: float, b: float), got 3")
        #expect(rejection("types.nothing", [1]) == "types.nothing: expected 0 params (), got 1")
    }

    @Test func integerOutOfRange() {
        #expect(rejection("types.int8", [300]) == "types.int8: param \"x\" must be an integer in int8 range -128...127, not 300")
        #expect(rejection("types.int8", [-129]) == "types.int8: param \"x\" must be an integer in int8 range -128...127, not -129")
        #expect(rejection("types.uint8", [-1]) == "types.uint8: param \"x\" must be an integer in uint8 range 0...255, not -1")
        #expect(rejection("types.int64", [.uint(UInt64(Int64.max) + 1)])
            == "types.int64: param \"x\" must be an integer in int64 range -9223372036854775808...9223372036854775807, not 9223372036854775808")
        #expect(rejection("types.uint32", [4_294_967_296]) != nil)
        #expect(rejection("types.int16", [2.5]) == "types.int16: param \"x\" must be an integer in int16 range -32768...32767, not 2.5")
    }

    @Test func integralDoublesAreAcceptedExactly() {
        #expect(call(set, "types.int32", [3.0]) == .success(3))
        #expect(rejection("types.int64", [1e19]) != nil)  // beyond what a double holds exactly
    }

    @Test func wrongJSONType() {
        #expect(rejection("types.int64", ["5"]) == "types.int64: param \"x\" must be an integer in int64 range -9223372036854775808...9223372036854775807, not string")
        #expect(rejection("types.bool", [1]) == "types.bool: param \"x\" must be a boolean, not 1")
        #expect(rejection("types.double", ["nan"]) == "types.double: param \"x\" must be a number (or \"NaN\", \"Infinity\", \"-Infinity\"), not string")
        #expect(rejection("types.string", [.null]) == "types.string: param \"s\" must be a string, not null")
        #expect(rejection("types.bytes", [[1, 2]]) == "types.bytes: param \"data\" must be a base64 string, not array")
    }

    @Test func floatOutOfRange() {
        #expect(rejection("types.float", [1e39]) == "types.float: param \"x\" must be within float range ±3.4028235e+38, not 1e+39")
    }

    @Test func nulInsideAString() {
        #expect(rejection("types.string", ["ab\u{0}c"]) == "types.string: param \"s\" must not contain a NUL character (found at byte 2)")
    }

    @Test func badBase64() {
        #expect(rejection("types.bytes", ["Zm9v!"]) == "types.bytes: param \"data\" must be base64 bytes: invalid base64 character at character 4")
    }

    @Test func unknownNamedParam() {
        #expect(rejection("types.sum_float", .named(["a": 1, "b": 2, "c": 3]))
            == "types.sum_float: unexpected param \"c\"; it takes (a: float, b: float)")
    }

    @Test func missingNamedParam() {
        #expect(rejection("types.sum_float", .named(["a": 1])) == "types.sum_float: missing param \"b\"; it takes (a: float, b: float)")
    }

    @Test func contextParamsAreNotJSONParams() {
        #expect(rejection("types.checked_div", .named(["ctx": 1, "a": 1, "b": 1])) == "types.checked_div: unexpected param \"ctx\"; it takes (a: int32, b: int32)")
        #expect(rejection("types.is_cancelled", [.null]) == "types.is_cancelled: expected 0 params (), got 1")
    }

    @Test func laterParamErrorsNameTheirParam() {
        #expect(rejection("types.mixed", [1, 2.0, "x", "", 3.0, 4, "yes"]) == "types.mixed: param \"g\" must be a boolean, not string")
        #expect(rejection("types.mixed", [1, 2.0, "x", "***", 3.0, 4, true])?.hasPrefix("types.mixed: param \"d\" must be base64 bytes") == true)
    }
}
