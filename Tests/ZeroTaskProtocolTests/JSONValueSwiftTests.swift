import Testing
import ZeroTaskProtocol

/// Swift values as JSON without spelling out cases: integers of any width, strings, arrays,
/// dictionaries, optionals, and params written as literals or from variables.
@Suite struct JSONValueSwiftTests {
    @Test func integersOfAnyWidthKeepTheirExactValue() {
        let n = 42
        #expect(JSONValue(n) == .int(42))
        #expect(JSONValue(Int8(-3)) == .int(-3))
        #expect(JSONValue(UInt64.max) == .uint(UInt64.max))
        #expect(JSONValue(UInt(7)) == .int(7))
        #expect(JSONValue(Int64.min) == .int(Int64.min))
    }

    @Test func stringsBoolsAndDoubles() {
        let name = "ada"
        #expect(JSONValue(name) == .string("ada"))
        #expect(JSONValue(name.dropFirst()) == .string("da"))
        #expect(JSONValue(true) == .bool(true))
        #expect(JSONValue(2.5) == .double(2.5))
    }

    @Test func arraysDictionariesAndOptionalsConvertWhole() {
        let values = [1, 2, 3]
        #expect(JSONValue(values) == [1, 2, 3])
        #expect(JSONValue(["a", "b"]) == ["a", "b"])
        #expect(JSONValue([[1], [2, 3]]) == [[1], [2, 3]])
        let maybe: [Int?] = [1, nil]
        #expect(JSONValue(maybe) == [1, nil])
        // Keys sorted: the same dictionary always writes the same JSON.
        #expect(JSONValue(["b": 2, "a": 1]).jsonString == #"{"a":1,"b":2}"#)
    }

    @Test func paramsFromLiteralsAndVariables() {
        let a = 40, b = "x"
        #expect(Params(a, b) == .positional([40, "x"]))
        let byPosition: Params = [2, 3]
        #expect(byPosition == .positional([2, 3]))
        let byName: Params = ["a": 2, "b": 3]
        #expect(byName == .named(["a": 2, "b": 3]))
        #expect(byName.json.jsonString == #"{"a":2,"b":3}"#)
    }

    @Test func theVersionIsSemanticAndDescribesTheBuild() {
        let parts = ZeroTaskVersion.current.split(separator: ".")
        #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil })
        #expect(ZeroTaskVersion.description.hasPrefix(ZeroTaskVersion.current + " ("))
        #expect(["debug", "release"].contains(ZeroTaskVersion.configuration))
    }
}
