import Testing
import ZeroTaskProtocol

/// The hand-written parser against RFC 8259's edge cases.
@Suite struct JSONParserTests {
    private func parse(_ text: String) throws(JSONParseError) -> JSONValue { try JSONValue.parse(text) }

    private func refuses(_ text: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: JSONParseError.self, comment, sourceLocation: sourceLocation) { try JSONValue.parse(text) }
    }

    private func refuses(bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: JSONParseError.self, sourceLocation: sourceLocation) { try JSONValue.parse(bytes) }
    }

    // MARK: numbers

    @Test func integersAtThe64BitLimitsStayExact() throws {
        #expect(try parse("0") == .int(0))
        #expect(try parse("-1") == .int(-1))
        #expect(try parse("9223372036854775807") == .int(Int64.max))
        #expect(try parse("-9223372036854775808") == .int(Int64.min))
        // Above Int64.max an integer is .uint, exact up to UInt64.max.
        #expect(try parse("9223372036854775808") == .uint(9_223_372_036_854_775_808))
        #expect(try parse("18446744073709551615") == .uint(UInt64.max))
    }

    @Test func integersBeyond64BitsBecomeDoubles() throws {
        #expect(try parse("18446744073709551616") == .double(18446744073709551616.0))
        #expect(try parse("-9223372036854775809") == .double(-9223372036854775809.0))
        #expect(try parse("123456789012345678901234567890") == .double(1.2345678901234568e29))
    }

    @Test func negativeZero() throws {
        // An integer has no negative zero: -0 is the integer 0. As a double the sign is kept.
        #expect(try parse("-0") == .int(0))
        guard case .double(let d) = try parse("-0.0") else { Issue.record("-0.0 is not a double"); return }
        #expect(d == 0 && d.sign == .minus)
    }

    @Test func fractionsAndExponentsAreDoubles() throws {
        #expect(try parse("1.5") == .double(1.5))
        #expect(try parse("1.0") == .double(1.0))
        #expect(try parse("-0.25") == .double(-0.25))
        #expect(try parse("1e2") == .double(100))
        #expect(try parse("1E+2") == .double(100))
        #expect(try parse("25e-2") == .double(0.25))
        #expect(try parse("1e308") == .double(1e308))
        #expect(try parse("-1.7976931348623157e308") == .double(-Double.greatestFiniteMagnitude))
        #expect(try parse("1e-400") == .double(0))
    }

    @Test func numbersTooLargeForADoubleAreRefused() {
        // They would otherwise become infinity and be written back as the string "Infinity".
        refuses("1e309")
        refuses("-1e400")
        refuses("[1" + String(repeating: "0", count: 400) + "]")
    }

    @Test func malformedNumbersAreRefused() {
        for text in ["01", "-01", "00", "007", "-", "+1", ".5", "1.", "1.e5", "1e", "1e+", "-a", "0x10", "1_000",
            "Infinity", "NaN", "-Infinity", "1.5.2", "--1"]
        {
            refuses(text, "\(text)")
        }
    }

    // MARK: strings

    @Test func escapes() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try parse(#""a\u0041\u00e9\u20AC""#) == .string("aAé€"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse(#""plain ascii and é 😀""#) == .string("plain ascii and é 😀"))
    }

    @Test func surrogatePairsDecodeToOneScalar() throws {
        #expect(try parse(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try parse(#""x\ud834\udd1ey""#) == .string("x𝄞y"))
    }

    @Test func loneSurrogatesAreRefused() {
        refuses(#""\uD83D""#)
        refuses(#""\uD83Dx""#)
        refuses(#""\uD83D\u0041""#)
        refuses(#""\uD83D\uD83D""#)
        refuses(#""\uDE00""#)
        refuses(#""\uDE00\uD83D""#)
    }

    @Test func badEscapesAreRefused() {
        for text in [#""\x""#, #""\u12G4""#, #""\u12""#, #""\U0041""#, #""\'""#, #""\"#, #""\u"#] {
            refuses(text, "\(text)")
        }
    }

    @Test func invalidUTF8IsRefused() {
        let q: UInt8 = 0x22
        refuses(bytes: [q, 0xFF, q])
        refuses(bytes: [q, 0xC0, 0xAF, q])  // overlong "/"
        refuses(bytes: [q, 0xE2, 0x82, q])  // truncated "€"
        refuses(bytes: [q, 0xED, 0xA0, 0x80, q])  // a surrogate encoded in UTF-8
        refuses(bytes: [q, 0xF4, 0x90, 0x80, 0x80, q])  // above U+10FFFF
        refuses(bytes: [q, 0x80, q])  // a lone continuation byte
        // The same after an escape, on the parser's slow path.
        refuses(bytes: [q, 0x5C, UInt8(ascii: "n"), 0xFF, q])
        // And outside a string.
        refuses(bytes: [0xEF, 0xBB, 0xBF, UInt8(ascii: "1")])  // a byte-order mark is not JSON
    }

    @Test func validMultibyteUTF8IsKept() throws {
        #expect(try JSONValue.parse([0x22, 0xE2, 0x82, 0xAC, 0x22]) == .string("€"))
        #expect(try JSONValue.parse([0x22, 0x5C, UInt8(ascii: "t"), 0xF0, 0x9F, 0x98, 0x80, 0x22]) == .string("\t😀"))
    }

    @Test func rawControlCharactersInStringsAreRefused() {
        for c: UInt8 in [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F] {
            refuses(bytes: [0x22, UInt8(ascii: "a"), c, 0x22])
            refuses(bytes: [0x22, 0x5C, UInt8(ascii: "n"), c, 0x22])
        }
        // DEL is not a control character for JSON.
        #expect(throws: Never.self) { try JSONValue.parse([0x22, 0x7F, 0x22]) }
    }

    @Test func unterminatedStringsAreRefused() {
        refuses(#""abc"#)
        refuses(#""abc\n"#)
        refuses(#"""#)
    }

    // MARK: structure

    @Test func literalsAndEmptyContainers() throws {
        #expect(try parse("true") == .bool(true))
        #expect(try parse("false") == .bool(false))
        #expect(try parse("null") == .null)
        #expect(try parse("[]") == .array([]))
        #expect(try parse("{}") == .object(JSONObject()))
        #expect(try parse(#"[1,"a",null,[{}]]"#) == [1, "a", nil, [[:]]])
        for text in ["tru", "True", "nul", "NULL", "falsey", "nulll", "t"] { refuses(text, "\(text)") }
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = JSONValue.maxDepth
        #expect(depth == 256)
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try parse(arrays)
        var levels = 0
        while case .array(let a) = value {
            levels += 1
            value = a.first ?? .null
        }
        #expect(levels == depth)
        let objects = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(throws: Never.self) { try JSONValue.parse(objects) }
    }

    @Test func nestingBeyondTheLimitIsRefused() {
        let depth = JSONValue.maxDepth + 1
        refuses(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        refuses(String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth))
        refuses(String(repeating: #"[{"a":"#, count: 129) + "1" + String(repeating: "}]", count: 129))
        // Hostile depth fails cleanly rather than exhausting the stack.
        refuses(String(repeating: "[", count: 1_000_000))
    }

    @Test func trailingGarbageIsRefused() {
        for text in ["1 2", "{}}", "[1]]", "[1]x", "nullx", "truex", #""a""b""#, "{} {}", "1,", "0 0"] {
            refuses(text, "\(text)")
        }
    }

    @Test func malformedContainersAreRefused() {
        for text in ["[1,]", "[,1]", "[1 2]", "[", "]", "{", #"{"a":1,}"#, "{,}", #"{"a"}"#, #"{"a":}"#, "{1:2}",
            "{'a':1}", #"{"a" 1}"#, #"{"a":1 "b":2}"#, #"["a":1]"#, "", "   "]
        {
            refuses(text, "\(text)")
        }
    }

    @Test func insignificantWhitespaceIsTheFourRFCCharacters() throws {
        #expect(try parse(" \t\n\r[ 1 ,\t{ \"a\" :\n2 } ]\r\n ") == [1, ["a": 2]])
        refuses("\u{0C}1")  // form feed
        refuses("\u{A0}1")  // no-break space
        refuses("[1,\u{0B}2]")  // vertical tab
    }

    @Test func duplicateKeysAreKeptInOrderAndTheLastWinsOnLookup() throws {
        let value = try parse(#"{"a":1,"b":2,"a":3}"#)
        guard case .object(let o) = value else { Issue.record("not an object"); return }
        #expect(o.keys == ["a", "b", "a"])
        #expect(o["a"] == 3)
    }

    @Test func keyOrderIsPreserved() throws {
        guard case .object(let o) = try parse(#"{"z":1,"a":2,"m":{"y":1,"b":2}}"#) else { Issue.record("not an object"); return }
        #expect(o.keys == ["z", "a", "m"])
        #expect(o["m"]?.objectValue?.keys == ["y", "b"])
    }

    @Test func errorsReportTheByteOffset() {
        do {
            _ = try JSONValue.parse("[1, x]")
            Issue.record("parsed")
        } catch {
            #expect(error.offset == 4)
            #expect(error.description.contains("at byte 4"))
        }
    }
}
