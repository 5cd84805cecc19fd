import Testing
import ZeroTaskProtocol

/// Error objects and the protocol's codes.
@Suite struct RPCErrorTests {
    @Test func errorCodesMatchTheProtocolDocument() {
        // PROTOCOL.md, "Error codes", plus the backpressure code the broker adds.
        let expected: [ErrorCode: Int64] = [
            .parseError: -32700, .invalidRequest: -32600, .methodNotFound: -32601, .invalidParams: -32602,
            .internalError: -32603, .invalidClientID: -32010, .invalidTaskID: -32020, .invalidNodeID: -32030,
            .taskNotComplete: -32050, .taskTimedOut: -32060, .workerCrashed: -32061, .taskCancelled: -32062,
            .retriesExhausted: -32063, .resourceLimit: -32064, .queueFull: -32070, .notAllowed: -32040,
        ]
        #expect(Set(ErrorCode.allCases) == Set(expected.keys))
        for (code, value) in expected { #expect(code.rawValue == value, "\(code)") }
    }

    @Test func statusCodesMatchTheProtocolDocument() {
        #expect(TaskStatus.allCases.map(\.rawValue) == [1000, 3000, 5000, 7000, 9000])
        #expect(TaskStatus.allCases.filter(\.isComplete) == [.finished, .failed])
        #expect(TaskStatus(name: "RUNNING") == .running)
        #expect(TaskStatus(name: "done") == nil)
    }

    @Test func jsonForm() {
        #expect(RPCError(.invalidTaskID, "unknown task \"t\"").json.jsonString == #"{"code":-32020,"message":"unknown task \"t\""}"#)
        let e = RPCError(code: 7, message: "division by zero", data: ["a": 1])
        #expect(e.json.jsonString == #"{"code":7,"message":"division by zero","data":{"a":1}}"#)
        #expect(RPCError(json: e.json) == e)
        #expect(RPCError(json: RPCError(.taskCancelled, "x").json) == RPCError(code: -32062, message: "x"))
        #expect(e.description == "division by zero (7)")
    }

    @Test func readingErrorObjects() throws {
        #expect(RPCError(json: ["code": 3.0, "message": "m"]) == RPCError(code: 3, message: "m"))
        #expect(RPCError(json: ["code": 3.5, "message": "m"]) == nil)
        #expect(RPCError(json: ["code": "3", "message": "m"]) == nil)
        #expect(RPCError(json: ["code": 3]) == nil)
        #expect(RPCError(json: ["message": "m"]) == nil)
        #expect(RPCError(json: "boom") == nil)
    }

    @Test func helpers() {
        #expect(RPCError.methodNotFound("x.y") == RPCError(code: -32601, message: "method not found: x.y"))
        #expect(RPCError.invalidParams("p").code == -32602)
    }
}
