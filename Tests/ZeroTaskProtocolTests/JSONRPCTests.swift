import Testing
import ZeroTaskProtocol

/// Reading request bodies (single, batch, invalid) and writing requests and responses.
@Suite struct JSONRPCTests {
    private func body(_ text: String) -> IncomingBody {
        Array(text.utf8).withUnsafeBytes { IncomingBody.parse($0) }
    }

    private func request(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Request? {
        guard case .single(.request(let r)) = body(text) else {
            Issue.record("not a single request: \(body(text))", sourceLocation: sourceLocation)
            return nil
        }
        return r
    }

    /// The error response a body earned, when it is a single invalid entry.
    private func invalid(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Response? {
        guard case .single(.invalid(let r)) = body(text) else {
            Issue.record("not refused: \(text)", sourceLocation: sourceLocation)
            return nil
        }
        return r
    }

    private func code(_ r: Response?) -> Int64? {
        guard case .failure(let e)? = r?.outcome else { return nil }
        return e.code
    }

    @Test func singleRequestWithPositionalParams() {
        let r = request(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["alice"],"id":1}"#)
        #expect(r == Request(method: "zerotask.broker.client_connect", params: .positional(["alice"]), id: 1))
        #expect(r?.isNotification == false)
    }

    @Test func singleRequestWithNamedParamsKeepsTheirOrder() {
        let r = request(#"{"id":"x","params":{"b":1,"a":2},"method":"m","jsonrpc":"2.0"}"#)
        guard case .named(let o)? = r?.params else { Issue.record("params not named"); return }
        #expect(o.keys == ["b", "a"])
        #expect(r?.id == "x")
    }

    @Test func absentParamsAreAnEmptyList() {
        #expect(request(#"{"jsonrpc":"2.0","method":"m","id":1}"#)?.params == Params.none)
    }

    @Test func idsOfEveryAllowedType() {
        let ids: [(String, JSONValue)] = [
            ("0", .int(0)), ("-5", .int(-5)), ("18446744073709551615", .uint(UInt64.max)), ("1.5", .double(1.5)),
            (#""""#, .string("")), (#""abc""#, .string("abc")), ("null", .null),
        ]
        for (text, id) in ids {
            let r = request(#"{"jsonrpc":"2.0","method":"m","id":"# + text + "}")
            #expect(r?.id == id, "id \(text)")
            // 0, "" and null are ids: only absence makes a notification.
            #expect(r?.isNotification == false, "id \(text)")
        }
    }

    @Test func withoutAnIDItIsANotification() {
        let r = request(#"{"jsonrpc":"2.0","method":"zerotask.broker.node_task_finished","params":["t",5]}"#)
        #expect(r?.id == nil)
        #expect(r?.isNotification == true)
    }

    @Test func idsOfOtherTypesAreRefusedAndAnsweredWithANullID() {
        for text in ["[1]", "{}", "true", "false"] {
            let r = invalid(#"{"jsonrpc":"2.0","method":"m","id":"# + text + "}")
            #expect(code(r) == -32600, "id \(text)")
            // JSON-RPC 2.0: when the id cannot be read, the response's id is null.
            #expect(r?.id == .null, "id \(text)")
        }
    }

    @Test func notJSONIsAParseError() {
        for text in ["{", "", "not json", #"{"jsonrpc":"2.0","method":"m","id":1"#, "[1,2"] {
            let r = invalid(text)
            #expect(code(r) == -32700, "\(text)")
            #expect(r?.id == .null)
        }
    }

    @Test func requestsBreakingTheRulesAreInvalidRequestsCarryingTheirID() {
        let cases = [
            #"{"method":"m","id":7}"#,  // no jsonrpc
            #"{"jsonrpc":"1.0","method":"m","id":7}"#,
            #"{"jsonrpc":2.0,"method":"m","id":7}"#,
            #"{"jsonrpc":"2.0","id":7}"#,  // no method
            #"{"jsonrpc":"2.0","method":1,"id":7}"#,
            #"{"jsonrpc":"2.0","method":"m","params":"x","id":7}"#,
            #"{"jsonrpc":"2.0","method":"m","params":3,"id":7}"#,
            #"{"jsonrpc":"2.0","method":"m","params":null,"id":7}"#,
            #"{"jsonrpc":"2.0","method":"m","id":7,"extra":true}"#,
        ]
        for text in cases {
            let r = invalid(text)
            #expect(code(r) == -32600, "\(text)")
            #expect(r?.id == 7, "\(text)")
        }
    }

    @Test func aBodyThatIsNotAnObjectIsAnInvalidRequest() {
        for text in ["1", #""x""#, "null", "true"] {
            let r = invalid(text)
            #expect(code(r) == -32600, "\(text)")
            #expect(r?.id == .null)
        }
    }

    @Test func emptyBatchIsOneInvalidRequest() {
        let r = invalid("[]")
        #expect(code(r) == -32600)
        #expect(r?.id == .null)
    }

    @Test func batchKeepsOrderAndMarksInvalidMembers() {
        let text = #"[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"b"},1,[],{"jsonrpc":"2.0","id":2},{"jsonrpc":"2.0","method":"c","id":"z"}]"#
        guard case .batch(let calls) = body(text) else { Issue.record("not a batch"); return }
        #expect(calls.count == 6)
        #expect(calls[0] == .request(Request(method: "a", id: 1)))
        #expect(calls[1] == .request(Request(method: "b", id: nil)))
        for i in [2, 3, 4] {
            guard case .invalid(let r) = calls[i] else { Issue.record("member \(i) accepted"); continue }
            #expect(code(r) == -32600)
            #expect(r.id == (i == 4 ? 2 : .null))
        }
        #expect(calls[5] == .request(Request(method: "c", id: "z")))
    }

    @Test func requestIsWrittenWithKeysInOrder() {
        let r = Request(method: "m", params: .named(["x": 1]), id: 3)
        #expect(r.json.jsonString == #"{"jsonrpc":"2.0","method":"m","params":{"x":1},"id":3}"#)
        let n = Request(method: "m", params: .positional([1, "a"]), id: nil)
        #expect(n.json.jsonString == #"{"jsonrpc":"2.0","method":"m","params":[1,"a"]}"#)
        // A written request reads back as itself.
        #expect(IncomingBody.parse(r.json) == .single(.request(r)))
        #expect(IncomingBody.parse(n.json) == .single(.request(n)))
        #expect(IncomingBody.parse(Request(method: "m", id: .null).json) == .single(.request(Request(method: "m", id: .null))))
    }

    @Test func responsesAreWrittenAndReadBack() throws {
        let ok = Response(id: 1, result: ["a": [1, 2]])
        #expect(ok.json.jsonString == #"{"jsonrpc":"2.0","result":{"a":[1,2]},"id":1}"#)
        let bad = Response(id: .null, error: RPCError(.methodNotFound, "method not found: x"))
        #expect(bad.json.jsonString == #"{"jsonrpc":"2.0","error":{"code":-32601,"message":"method not found: x"},"id":null}"#)
        let withData = Response(id: "s", error: RPCError(code: 7, message: "m", data: ["k": [true]]))
        for r in [ok, bad, withData, Response(id: 0, result: nil), Response(id: "", result: false)] {
            #expect(Response(json: try JSONValue.parse(r.json.jsonBytes)) == r)
        }
    }

    @Test func responseReaderRefusesWhatIsNotAResponse() throws {
        #expect(Response(json: try JSONValue.parse(#"{"jsonrpc":"2.0","result":1}"#)) == nil)  // no id
        #expect(Response(json: try JSONValue.parse(#"{"jsonrpc":"2.0","id":1}"#)) == nil)  // neither
        #expect(Response(json: try JSONValue.parse(#"{"jsonrpc":"2.0","error":"boom","id":1}"#)) == nil)
        #expect(Response(json: try JSONValue.parse(#"[1]"#)) == nil)
    }

    @Test func paramsFromJSON() {
        #expect(Params(json: [1]) == .positional([1]))
        #expect(Params(json: ["a": 1]) == .named(["a": 1]))
        #expect(Params(json: "x") == nil)
        #expect(Params(json: nil) == nil)
        #expect(Params.named(["a": 1]).json == ["a": 1])
    }
}
