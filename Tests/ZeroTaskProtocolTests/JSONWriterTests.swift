import Testing
import ZeroTaskProtocol

/// The compact writer: exact numbers, escapes, key order, and round trips through the parser.
@Suite struct JSONWriterTests {
    @Test func outputIsCompact() {
        let value: JSONValue = ["a": [1, 2, ["b": nil]], "c": true, "d": "x y", "e": [:], "f": []]
        #expect(value.jsonString == #"{"a":[1,2,{"b":null}],"c":true,"d":"x y","e":{},"f":[]}"#)
    }

    @Test func integersAreExact() {
        #expect(JSONValue.int(0).jsonString == "0")
        #expect(JSONValue.int(9).jsonString == "9")
        #expect(JSONValue.int(10).jsonString == "10")
        #expect(JSONValue.int(-7).jsonString == "-7")
        #expect(JSONValue.int(Int64.max).jsonString == "9223372036854775807")
        #expect(JSONValue.int(Int64.min).jsonString == "-9223372036854775808")
        #expect(JSONValue.uint(UInt64.max).jsonString == "18446744073709551615")
        #expect(JSONValue(UInt64(5)) == .int(5))
        #expect(JSONValue(UInt64.max) == .uint(UInt64.max))
    }

    @Test func doublesAreWrittenAsJSONNumbers() throws {
        #expect(JSONValue.double(1.5).jsonString == "1.5")
        #expect(JSONValue.double(-0.0).jsonString == "-0.0")
        // A whole double keeps its fraction, so it reads back as a double, not an integer.
        #expect(JSONValue.double(5).jsonString == "5.0")
        for d in [0.1, 1e308, 1e-7, -2.5e-300, Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude, 1.8446744073709552e19] {
            let text = JSONValue.double(d).jsonString
            #expect(try JSONValue.parse(text) == .double(d), "\(d) written as \(text)")
        }
    }

    @Test func nonFiniteDoublesBecomeStrings() {
        #expect(JSONValue.double(.nan).jsonString == #""NaN""#)
        #expect(JSONValue.double(.infinity).jsonString == #""Infinity""#)
        #expect(JSONValue.double(-.infinity).jsonString == #""-Infinity""#)
        #expect(JSONValue.array([.double(.nan), .double(1)]).jsonString == #"["NaN",1.0]"#)
    }

    @Test func stringsEscapeOnlyWhatJSONRequires() {
        #expect(JSONValue.string("a\"b\\c").jsonString == #""a\"b\\c""#)
        #expect(JSONValue.string("\n\r\t").jsonString == #""\n\r\t""#)
        #expect(JSONValue.string("\u{0}\u{1}\u{8}\u{C}\u{1F}").jsonString == #""\u0000\u0001\u0008\u000c\u001f""#)
        // Slash, DEL and non-ASCII go out as they are (UTF-8).
        #expect(JSONValue.string("a/b\u{7F}é😀").jsonBytes == Array("\"a/b\u{7F}é😀\"".utf8))
        #expect(JSONValue.string("").jsonString == #""""#)
    }

    @Test func keyOrderIsKeptAsBuilt() {
        var o = JSONObject()
        o.append("zeta", 1)
        o.append("alpha", 2)
        o["mid"] = 3
        o["zeta"] = 4  // replaced in place, not moved
        #expect(JSONValue.object(o).jsonString == #"{"zeta":4,"alpha":2,"mid":3}"#)
        o["alpha"] = nil
        #expect(JSONValue.object(o).jsonString == #"{"zeta":4,"mid":3}"#)
    }

    @Test func parsedTextIsWrittenBackByteForByte() throws {
        let texts = [
            #"{"method":"zerotask.node.broker_new_task","params":{"method":"add","task_id":"c-1"},"jsonrpc":"2.0"}"#,
            #"[0,-1,9223372036854775807,-9223372036854775808,18446744073709551615,1.5,"\u0001\"\\",true,false,null]"#,
            #"{"b":{"z":[],"a":{}},"a":"é😀"}"#,
            #"{"k":1,"k":2}"#,
        ]
        for text in texts {
            #expect(try JSONValue.parse(text).jsonString == text)
        }
    }

    @Test func valuesRoundTripThroughTheParser() throws {
        let value: JSONValue = [
            "ints": [.int(Int64.min), .int(-1), .int(0), .int(Int64.max), .uint(UInt64.max)],
            "doubles": [0.5, -1e-9, 6.02214076e23],
            "strings": ["", "\u{0}", "quote\"", "back\\slash", "\u{1F}", "ünïcödé", "𝄞"],
            "nested": [["a": [["b": [nil, true, false]]]]],
        ]
        let back = try JSONValue.parse(value.jsonBytes)
        #expect(back == value)
        #expect(back.jsonBytes == value.jsonBytes)
    }

    @Test func rawAppendsAndReusedWriter() {
        var w = JSONWriter()
        w.writeRaw("[")
        w.write(.int(1))
        w.writeRaw(Array(",{\"x\":2}".utf8))
        w.writeRaw("]")
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"[1,{"x":2}]"#)
    }
}
