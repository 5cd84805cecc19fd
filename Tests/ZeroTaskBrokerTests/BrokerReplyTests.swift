import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The reply codec: each typed reply is written as the JSON docs/PROTOCOL.md shows, byte for
/// byte (keys in its order, numbers in the writer's forms), since peers written from that page
/// read it (Tests/python, the Python client).
@Suite struct BrokerReplyTests {
    static func text(_ reply: BrokerReply) -> String { reply.json.jsonString }

    @Test func scalarsAreTheirJSONValues() {
        #expect(Self.text(.accepted) == "true")
        #expect(Self.text(.flag(true)) == "true")
        #expect(Self.text(.flag(false)) == "false")
        #expect(Self.text(.id("alice-t1")) == #""alice-t1""#)
        #expect(Self.text(.count(3)) == "3")
        #expect(Self.text(.count(0)) == "0")
    }

    @Test func aStatusIsItsCode() {
        #expect(TaskStatus.allCases.map { Self.text(.status($0)) } == ["1000", "3000", "5000", "7000", "9000"])
    }

    @Test func aResultIsTheUsersValueAsItIs() {
        #expect(Self.text(.value(5)) == "5")
        #expect(Self.text(.value(.null)) == "null")
        #expect(Self.text(.value(["b": [1, 2.5, "x"], "a": ["k": true]])) == #"{"b":[1,2.5,"x"],"a":{"k":true}}"#)
        #expect(Self.text(.value(.uint(UInt64.max))) == "18446744073709551615")
    }

    @Test func anAssignmentIsMethodParamsIdThenTimeoutWhenSet() {
        let plain = TaskAssignment(id: "alice-a", method: "math.add", params: [2, 3])
        let timed = TaskAssignment(id: "alice-b", method: "math.add", params: ["x": 1], timeout: 30)
        #expect(Self.text(.claimed(plain)) == #"{"method":"math.add","params":[2,3],"id":"alice-a"}"#)
        #expect(Self.text(.claimed(timed)) == #"{"method":"math.add","params":{"x":1},"id":"alice-b","timeout":30.0}"#)
        // A task no longer available: the seed spec's `{}`.
        #expect(Self.text(.claimed(nil)) == "{}")
        #expect(Self.text(.assignments([plain, timed]))
            == #"[{"method":"math.add","params":[2,3],"id":"alice-a"},{"method":"math.add","params":{"x":1},"id":"alice-b","timeout":30.0}]"#)
        #expect(Self.text(.assignments([])) == "[]")
    }

    @Test func aWaitsEntryIsTaskIdStatusThenResultOrError() {
        let done = TaskResultEntry(taskID: "t1", status: .finished, outcome: .success(5))
        let failed = TaskResultEntry(taskID: "t2", status: .failed, outcome: .failure(RPCError(.taskCancelled, "task cancelled by its client")))
        #expect(Self.text(.entry(done)) == #"{"task_id":"t1","status":7000,"result":5}"#)
        #expect(Self.text(.entry(failed)) == #"{"task_id":"t2","status":9000,"error":{"code":-32062,"message":"task cancelled by its client"}}"#)
        // A call whose wait ended first: where the task stands, no outcome (null once it is gone).
        #expect(Self.text(.entry(TaskResultEntry(taskID: "t3", status: .running, outcome: nil))) == #"{"task_id":"t3","status":5000}"#)
        #expect(Self.text(.entry(TaskResultEntry(taskID: "t4", status: nil, outcome: nil))) == #"{"task_id":"t4","status":null}"#)
        #expect(Self.text(.entries([done, failed]))
            == #"[{"task_id":"t1","status":7000,"result":5},{"task_id":"t2","status":9000,"error":{"code":-32062,"message":"task cancelled by its client"}}]"#)
        #expect(Self.text(.entries([])) == "[]")
    }

    @Test func batchOutcomesAreOnePerEntryAnIdOrTrueElseTheErrorObject() {
        let full = RPCError(.queueFull, "queue full", data: ["limit": 2])
        #expect(Self.text(.submitted([.success("c-a"), .failure(full), .success("c-b")]))
            == #"["c-a",{"code":-32070,"message":"queue full","data":{"limit":2}},"c-b"]"#)
        #expect(Self.text(.reported([nil, RPCError(.invalidTaskID, "unknown task \"x\""), nil]))
            == #"[true,{"code":-32020,"message":"unknown task \"x\""},true]"#)
        #expect(Self.text(.submitted([])) == "[]")
    }

    @Test func goneIsTheListOfIds() {
        #expect(Self.text(.gone(["n-a", "n-b"])) == #"["n-a","n-b"]"#)
        #expect(Self.text(.gone([])) == "[]")
    }

    @Test func aDocumentIsWrittenAsItIs() {
        let doc: JSONValue = ["tasks": 0, "queued": 0, "requests_by_method": ["stats": 1]]
        #expect(Self.text(.document(doc)) == #"{"tasks":0,"queued":0,"requests_by_method":{"stats":1}}"#)
    }

    /// The whole response as the loop writes it: the reply's JSON is the `result`.
    @Test func theLoopsResponseCarriesTheReplyAsItsResult() {
        let pulled = BrokerReply.assignments([TaskAssignment(id: "alice-a", method: "work", params: [])])
        let response = BrokerLoop.response(.reply(pulled), id: 7)
        #expect(response?.json.jsonString == #"{"jsonrpc":"2.0","result":[{"method":"work","params":[],"id":"alice-a"}],"id":7}"#)
        #expect(BrokerLoop.response(.error(RPCError(.invalidParams, "no")), id: "r")?.json.jsonString
            == #"{"jsonrpc":"2.0","error":{"code":-32602,"message":"no"},"id":"r"}"#)
        #expect(BrokerLoop.response(.deferred, id: 1) == nil)
    }
}
