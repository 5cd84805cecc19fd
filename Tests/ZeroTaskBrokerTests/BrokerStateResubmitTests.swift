import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// A client that failed over resends a submission it heard no reply to, with the task id it
/// chose: the broker takes the resend as the same task (docs/PROTOCOL.md, "Task ids and resends").
@Suite struct BrokerStateResubmitTests {
    typealias Harness = BrokerStateTests.Harness

    @Test func aResendWithTheSameSpecReturnsTheSameTaskAndQueuesNothingMore() {
        var h = Harness()
        h.result("client_connect", ["c"], peer: "C")
        #expect(h.result("client_new_task", ["c", "math.add", [1, 2], "t1"], peer: "C") == "c-t1")
        #expect(h.result("client_new_task", ["c", "math.add", [1, 2], "t1"], peer: "C") == "c-t1")
        // Named form, as a client that also sets options sends it: the same task.
        #expect(h.result("client_new_task", ["client_id": "c", "method": "math.add", "params": [1, 2], "task_id": "t1"], peer: "C") == "c-t1")
        #expect(h.state.queuedCount == 1 && h.state.counters.submitted == 1)
        h.result("node_connect", ["node_id": "n1", "methods": ["math.add"]], peer: "N")
        let pulled = h.result("node_task_pull", ["n1", 10], peer: "N")
        #expect(pulled.arrayValue?.count == 1)
        // Running: still the same task, not queued again.
        #expect(h.result("client_new_task", ["c", "math.add", [1, 2], "t1"], peer: "C") == "c-t1")
        #expect(h.state.queuedCount == 0 && h.state.tasks["c-t1"]?.status == .assigned)
        h.result("node_task_finished", ["n1", "c-t1", 3], peer: "N")
        // Finished, its params dropped: nothing to compare, so the id is taken (a client that
        // chose a unique id knows the task is its own); the result stays.
        #expect(h.error("client_new_task", ["c", "math.add", [1, 2], "t1"], peer: "C")?.code == -32020)
        #expect(h.state.tasks["c-t1"]?.status == .finished && h.state.tasks["c-t1"]?.result == 3)
        #expect(h.state.queuedCount == 0 && h.state.counters.submitted == 1)
        // A failed task keeps its params (for an admin's retry): its resend is the same task.
        #expect(h.result("client_new_task", ["c", "math.add", [9], "t2"], peer: "C") == "c-t2")
        #expect(h.result("client_cancel_task", ["c", "c-t2"], peer: "C") == true)
        #expect(h.result("client_new_task", ["c", "math.add", [9], "t2"], peer: "C") == "c-t2")
        #expect(h.state.tasks["c-t2"]?.status == .failed && h.state.queuedCount == 0)
    }

    @Test func theSameIDForAnotherSpecOrAnotherClientIsTaken() {
        var h = Harness()
        h.result("client_connect", ["c"], peer: "C")
        #expect(h.result("client_new_task", ["c", "math.add", [1, 2], "t1"], peer: "C") == "c-t1")
        #expect(h.error("client_new_task", ["c", "math.add", [1, 3], "t1"], peer: "C")?.code == -32020)
        #expect(h.error("client_new_task", ["c", "math.mul", [1, 2], "t1"], peer: "C")?.code == -32020)
        #expect(h.error("client_new_task", ["c", "math.add", [], "t1"], peer: "C")?.message == "task id \"c-t1\" is taken")
        // "a" + "b-c" and "a-b" + "c" spell the same full id: another client's task is taken.
        h.result("client_connect", ["a"], peer: "A")
        h.result("client_connect", ["a-b"], peer: "B")
        #expect(h.result("client_new_task", ["a", "math.add", [1], "b-c"], peer: "A") == "a-b-c")
        #expect(h.error("client_new_task", ["a-b", "math.add", [1], "c"], peer: "B")?.code == -32020)
        #expect(h.state.queuedCount == 2 && h.state.counters.submitted == 2)
    }
}
