import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

@Suite struct MethodManifestTests {
    func parse(_ method: String) throws(PluginProblem) -> MethodManifest {
        try Manifest.parse(Array(#"{"abi": 1, "name": "p", "methods": [\#(method)]}"#.utf8), file: "p.json").methods[0]
    }

    func problem(_ method: String) -> PluginProblem? {
        do { _ = try parse(method); return nil } catch { return error }
    }

    @Test func typedMethodWithEveryField() throws {
        let m = try parse(#"""
            {"name": "text.upper", "symbol": "upper", "params": [{"name": "s", "type": "string"}, {"type": "context"}],
             "returns": {"type": "string", "free": "text_free"}, "timeout": 5, "doc": "upper case"}
            """#)
        #expect(m.abi == .c)
        #expect(m.params == [ParamSpec(name: "s", type: .string, typeName: "string"), ParamSpec(name: "context", type: .context, typeName: "context")])
        #expect(m.returns == ReturnSpec(type: .string, freeSymbol: "text_free"))
        #expect(m.timeout == 5)
        #expect(m.doc == "upper case")
    }

    @Test func returnsDefaultsToVoid() throws {
        #expect(try parse(#"{"name": "a.b", "symbol": "f"}"#).returns == .void)
    }

    @Test func everyParamTypeIsKnown() throws {
        for t in ValueType.allCases where t.isParamType {
            #expect(try parse(#"{"name": "a.b", "symbol": "f", "params": [{"name": "x", "type": "\#(t)"}]}"#).params[0].type == t)
        }
    }

    @Test func unknownTypeNamesMethodAndField() {
        let p = problem(#"{"name": "a.b", "symbol": "f", "params": [{"name": "x", "type": "int64"}, {"name": "y", "type": "int128"}]}"#)
        #expect(p?.method == "a.b")
        #expect(p?.field == "methods[0].params[1].type")
        #expect(p?.cause.hasPrefix("unknown type \"int128\" (expected one of bool, int8") == true)
        #expect(problem(#"{"name": "a.b", "symbol": "f", "returns": "context"}"#)?.field == "methods[0].returns")
        #expect(problem(#"{"name": "a.b", "symbol": "f", "params": [{"name": "x", "type": "void"}]}"#)?.field == "methods[0].params[0].type")
    }

    @Test func badAndReservedMethodNames() {
        #expect(problem(#"{"name": "1abc", "symbol": "f"}"#)?.cause.hasPrefix("bad method name") == true)
        #expect(problem(#"{"name": "a b", "symbol": "f"}"#)?.field == "methods[0].name")
        let reserved = problem(#"{"name": "zerotask.broker.methods", "symbol": "f"}"#)
        #expect(reserved == PluginProblem(file: "p.json", method: "zerotask.broker.methods", field: "methods[0].name",
                                          cause: "the \"zerotask.\" namespace is reserved"))
    }

    @Test func symbolIsRequiredAndMustBeACName() {
        #expect(problem(#"{"name": "a.b"}"#) == PluginProblem(file: "p.json", method: "a.b", field: "methods[0].symbol", cause: "missing"))
        #expect(problem(#"{"name": "a.b", "symbol": "f;rm"}"#)?.cause == "bad symbol name \"f;rm\"")
    }

    @Test func paramNamesMustBeUniqueIdentifiers() {
        #expect(problem(#"{"name": "a.b", "symbol": "f", "params": [{"name": "x", "type": "int8"}, {"name": "x", "type": "int8"}]}"#)?.cause
            == "duplicate param name \"x\"")
        #expect(problem(#"{"name": "a.b", "symbol": "f", "params": [{"type": "int8"}]}"#)?.field == "methods[0].params[0].name")
        #expect(problem(#"{"name": "a.b", "symbol": "f", "params": [{"name": "a-b", "type": "int8"}]}"#)?.cause == "bad param name \"a-b\"")
    }

    @Test func freeOnlyForPointerReturns() {
        #expect(problem(#"{"name": "a.b", "symbol": "f", "returns": {"type": "int64", "free": "g"}}"#)?.field == "methods[0].returns.free")
    }

    @Test func jsonMethods() throws {
        let m = try parse(#"{"name": "s.sum", "symbol": "f", "abi": "json", "params": [{"name": "values", "type": "array"}]}"#)
        #expect(m.abi == .json)
        #expect(m.params == [ParamSpec(name: "values", type: nil, typeName: "array")])
        #expect(problem(#"{"name": "s.sum", "symbol": "f", "abi": "json", "returns": "int64"}"#)?.field == "methods[0].returns")
        // A JSON method's declared param types are checked, so an unknown one is an error.
        let unknown = problem(#"{"name": "s.sum", "symbol": "f", "abi": "json", "params": [{"name": "values", "type": "array of numbers"}]}"#)
        #expect(unknown?.field == "methods[0].params[0].type", "\(String(describing: unknown))")
        #expect(unknown?.cause.hasPrefix("unknown type \"array of numbers\" (expected one of bool, int8") == true, "\(String(describing: unknown))")
        #expect(problem(#"{"name": "s.sum", "symbol": "f", "abi": "json", "params": [{"name": "c", "type": "context"}]}"#)?.field == "methods[0].params[0].type")
        #expect(try parse(#"{"name": "s.sum", "symbol": "f", "abi": "json", "params": [{"name": "v", "type": "int64"}, {"name": "o", "type": "object"}]}"#).params.map(\.typeName) == ["int64", "object"])
        #expect(problem(#"{"name": "s.sum", "symbol": "f", "abi": "rust"}"#)?.field == "methods[0].abi")
    }

    @Test func timeoutMustBePositive() {
        #expect(problem(#"{"name": "a.b", "symbol": "f", "timeout": 0}"#)?.field == "methods[0].timeout")
        #expect(problem(#"{"name": "a.b", "symbol": "f", "timeout": "5"}"#)?.field == "methods[0].timeout")
    }

    @Test func unknownMethodFieldIsAProblem() {
        #expect(problem(#"{"name": "a.b", "symbol": "f", "retuns": "int64"}"#)?.field == "methods[0].retuns")
    }
}
