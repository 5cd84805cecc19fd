import Testing
import ZeroTaskProtocol

/// Binding params by position and by name, with errors that name the parameter.
@Suite struct ParamBinderTests {
    private let names = ["client_id", "method", "params", "priority"]

    private func bind(_ params: JSONValue, required: Int = 2) throws(RPCError) -> ParamBinder {
        try ParamBinder(Params(json: params)!, method: "client_new_task", names: names, required: required)
    }

    /// The -32602 error `body` throws.
    private func failure(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> RPCError? {
        do {
            try body()
            Issue.record("did not throw", sourceLocation: sourceLocation)
            return nil
        } catch let error as RPCError {
            #expect(error.code == -32602, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("threw \(error), not an RPCError", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func positional() throws {
        let p = try bind(["alice", "add", [2, 3]])
        #expect(try p.string("client_id") == "alice")
        #expect(try p.string("method") == "add")
        #expect(try p.array("params") == [2, 3])
        #expect(try p.optionalInt("priority") == nil)
        #expect(p.has("params") && !p.has("priority"))
    }

    @Test func named() throws {
        let p = try bind(["priority": 5, "method": "add", "client_id": "alice"])
        #expect(try p.string("client_id") == "alice")
        #expect(try p.optionalInt("priority") == 5)
        #expect(p.value("params") == nil)
    }

    @Test func tooManyPositional() {
        let e = failure { _ = try bind(["a", "m", [], 1, "extra"]) }
        #expect(e?.message == "client_new_task: too many params (5); it takes (client_id, method, [params], [priority])")
    }

    @Test func missingRequired() {
        #expect(failure { _ = try bind(["a"]) }?.message.contains(#"missing param "method""#) == true)
        #expect(failure { _ = try bind(["method": "m"]) }?.message.contains(#"missing param "client_id""#) == true)
        #expect(failure { _ = try bind([]) }?.message.contains(#"missing param "client_id""#) == true)
    }

    @Test func unexpectedNamed() {
        let e = failure { _ = try bind(["client_id": "a", "method": "m", "colour": "red"]) }
        #expect(e?.message.contains(#"unexpected param "colour""#) == true)
        #expect(e?.message.hasPrefix("client_new_task:") == true)
    }

    @Test func wrongTypesNameTheParamAndBothTypes() throws {
        let p = try bind([1, ["m"], "x", "high"])
        #expect(failure { _ = try p.string("client_id") }?.message == #"client_new_task: param "client_id" must be a string, not integer"#)
        #expect(failure { _ = try p.optionalString("method") }?.message.contains("must be a string, not array") == true)
        #expect(failure { _ = try p.array("params") }?.message.contains(#""params" must be an array, not string"#) == true)
        #expect(failure { _ = try p.object("params") }?.message.contains("must be an object, not string") == true)
        #expect(failure { _ = try p.optionalInt("priority") }?.message.contains("must be an integer, not string") == true)
        let q = try bind(["a", "m", [], 1.5])
        #expect(failure { _ = try q.optionalInt("priority") }?.message.contains("must be an integer, not number") == true)
    }

    @Test func integerRanges() throws {
        let p = try bind(["a", "m", [], 7])
        #expect(try p.optionalInt("priority", in: 0...7) == 7)
        #expect(failure { _ = try p.optionalInt("priority", in: 0...6) }?.message
            == #"client_new_task: param "priority" must be in 0...6, not 7"#)
        let n = try bind(["a", "m", [], -1])
        #expect(failure { _ = try n.optionalInt("priority", in: 0...10) }?.message.contains("must be in 0...10, not -1") == true)
        // An integer above Int64.max is an integer out of range, not a value of the wrong type.
        let big = try bind(["a", "m", [], .uint(UInt64.max)])
        #expect(failure { _ = try big.optionalInt("priority") }?.message
            == #"client_new_task: param "priority" must be in -9223372036854775808...9223372036854775807, not 18446744073709551615"#)
    }

    @Test func seconds() throws {
        #expect(try bind(["a", "m", [], 2]).optionalSeconds("priority") == 2)
        #expect(try bind(["a", "m", [], 0.25]).optionalSeconds("priority") == 0.25)
        #expect(failure { _ = try bind(["a", "m", [], -1]).optionalSeconds("priority") }?.message.contains("non-negative") == true)
        #expect(failure { _ = try bind(["a", "m", [], "1s"]).optionalSeconds("priority") }?.message.contains("a number of seconds, not string") == true)
    }

    @Test func nullCountsAsAbsent() throws {
        let p = try bind(["a", "m", nil, nil])
        #expect(p.value("params") == nil)
        #expect(!p.has("priority"))
        #expect(try p.optionalInt("priority") == nil)
        #expect(try p.optionalString("params") == nil)
        let named = try bind(["client_id": "a", "method": "m", "priority": nil])
        #expect(try named.optionalInt("priority") == nil)
        // A required param given as null is missing when read.
        let r = try bind([nil, "m"])
        #expect(failure { _ = try r.string("client_id") }?.message == #"client_new_task: missing param "client_id""#)
    }

    @Test func noParamsForAMethodThatTakesNone() throws {
        _ = try ParamBinder(.positional([]), method: "stats", names: [], required: 0)
        _ = try ParamBinder(.named([:]), method: "stats", names: [], required: 0)
        #expect(failure { _ = try ParamBinder(.positional([1]), method: "stats", names: [], required: 0) }?.message
            == "stats: too many params (1); it takes ()")
    }
}
