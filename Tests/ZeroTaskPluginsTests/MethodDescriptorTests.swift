import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

@Suite struct MethodDescriptorTests {
    func descriptor(_ method: String) throws -> MethodDescriptor {
        let m = try Manifest.parse(Array(#"{"abi": 1, "name": "p", "methods": [\#(method)]}"#.utf8), file: "p.json")
        return MethodDescriptor(m.methods[0], plugin: "p")
    }

    @Test func typedSignatureLeavesOutContext() throws {
        let d = try descriptor(#"""
            {"name": "p.f", "symbol": "f", "params": [{"type": "context"}, {"name": "a", "type": "int64"}, {"name": "s", "type": "string"}],
             "returns": {"type": "string", "free": "g"}, "doc": "does f", "timeout": 1.5}
            """#)
        #expect(d.signature == "p.f(a: int64, s: string) -> string")
        #expect(d.json == [
            "name": "p.f", "plugin": "p", "abi": "c",
            "params": [["name": "a", "type": "int64"], ["name": "s", "type": "string"]],
            "returns": "string", "doc": "does f", "timeout": 1.5,
        ])
        // Key order is part of what is advertised (compact, stable).
        #expect(d.json.jsonString.hasPrefix(#"{"name":"p.f","plugin":"p","abi":"c","params":["#))
    }

    @Test func jsonMethodsReturnJSON() throws {
        let d = try descriptor(#"{"name": "p.s", "symbol": "s", "abi": "json", "params": [{"name": "values"}]}"#)
        #expect(d.signature == "p.s(values: any) -> json")
        #expect(d.json["doc"] == nil)
        #expect(d.json["timeout"] == nil)
        #expect(d.json["abi"] == "json")
    }

    @Test func voidMethod() throws {
        #expect(try descriptor(#"{"name": "p.v", "symbol": "v"}"#).signature == "p.v() -> void")
    }
}
