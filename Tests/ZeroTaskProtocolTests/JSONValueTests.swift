import Testing
import ZeroTaskProtocol

/// Accessors and the ordered object.
@Suite struct JSONValueTests {
    @Test func objectLookupAndEquality() {
        let a: JSONObject = ["x": 1, "y": 2]
        let b: JSONObject = ["y": 2, "x": 1]
        // Equality compares members, not their order; the wire order is checked on bytes.
        #expect(a == b)
        #expect(JSONValue.object(a).jsonString != JSONValue.object(b).jsonString)
        #expect(a != ["x": 1])
        #expect(a["y"] == 2)
        #expect(a["nope"] == nil)
    }

    @Test func int64ValueAcceptsWholeNumbersOnly() {
        #expect(JSONValue.int(-3).int64Value == -3)
        #expect(JSONValue.double(4).int64Value == 4)
        #expect(JSONValue.double(4.5).int64Value == nil)
        #expect(JSONValue.double(9.3e18).int64Value == nil)
        #expect(JSONValue.uint(UInt64.max).int64Value == nil)
        #expect(JSONValue.string("4").int64Value == nil)
    }

    @Test func typeNamesForErrorMessages() {
        #expect(JSONValue.null.typeName == "null")
        #expect(JSONValue.int(1).typeName == "integer")
        #expect(JSONValue.uint(UInt64.max).typeName == "integer")
        #expect(JSONValue.double(1).typeName == "number")
        #expect(JSONValue.string("").typeName == "string")
        #expect(JSONValue.array([]).typeName == "array")
        #expect(JSONValue.object([:]).typeName == "object")
        #expect(JSONValue.bool(true).typeName == "boolean")
    }
}
