import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// A client that failed over resends a submission it heard no reply to, with the task id it
/// chose: the broker takes the resend as the same task (docs/PROTOCOL.md, "Task ids and resends").
@Suite struct BrokerStateResubmitTests {
    typealias Harness = BrokerStateTests.Harness

    /// `client_new_task` of `client`'s task `taskID` calling `method` with `params`.
    static func submit(_ client: String, _ method: String, _ params: JSONValue, _ taskID: String) -> BrokerCommand {
        .submit(clientID: client, Submission(method: method, params: params, taskID: taskID))
    }

    @Test func aResendWithTheSameSpecReturnsTheSameTaskAndQueuesNothingMore() {
        var h = Harness()
        h.value(.clientConnect(clientID: "c"), peer: "C")
        #expect(h.value(Self.submit("c", "math.add", [1, 2], "t1"), peer: "C") == "c-t1")
        #expect(h.value(Self.submit("c", "math.add", [1, 2], "t1"), peer: "C") == "c-t1")
        // Sent by name, as a client that also sets options sends it, it decodes to the same
        // command (BrokerCommandDecodingTests): a third resend is the same task.
        #expect(h.value(Self.submit("c", "math.add", [1, 2], "t1"), peer: "C") == "c-t1")
        #expect(h.state.queuedCount == 1 && h.state.counters.submitted == 1)
        h.value(.nodeConnect(nodeID: "n1", methods: ["math.add"], workers: nil, capacity: nil, unavailable: [:]), peer: "N")
        let pulled = h.value(.pull(nodeID: "n1", max: 10, wait: nil, done: []), peer: "N")
        #expect(pulled.arrayValue?.count == 1)
        // Running: still the same task, not queued again.
        #expect(h.value(Self.submit("c", "math.add", [1, 2], "t1"), peer: "C") == "c-t1")
        #expect(h.state.queuedCount == 0 && h.state.tasks["c-t1"]?.status == .assigned)
        h.value(.report(nodeID: "n1", .init(taskID: "c-t1", outcome: .success(3))), peer: "N")
        // Finished, its params dropped: nothing to compare, so the id is taken (a client that
        // chose a unique id knows the task is its own); the result stays.
        #expect(h.refusal(Self.submit("c", "math.add", [1, 2], "t1"), peer: "C")?.code == -32020)
        #expect(h.state.tasks["c-t1"]?.status == .finished && h.state.tasks["c-t1"]?.result == 3)
        #expect(h.state.queuedCount == 0 && h.state.counters.submitted == 1)
        // A failed task keeps its params (for an admin's retry): its resend is the same task.
        #expect(h.value(Self.submit("c", "math.add", [9], "t2"), peer: "C") == "c-t2")
        #expect(h.value(.clientTask(.cancel, clientID: "c", taskID: "c-t2"), peer: "C") == true)
        #expect(h.value(Self.submit("c", "math.add", [9], "t2"), peer: "C") == "c-t2")
        #expect(h.state.tasks["c-t2"]?.status == .failed && h.state.queuedCount == 0)
    }

    @Test func theSameIDForAnotherSpecOrAnotherClientIsTaken() {
        var h = Harness()
        h.value(.clientConnect(clientID: "c"), peer: "C")
        #expect(h.value(Self.submit("c", "math.add", [1, 2], "t1"), peer: "C") == "c-t1")
        #expect(h.refusal(Self.submit("c", "math.add", [1, 3], "t1"), peer: "C")?.code == -32020)
        #expect(h.refusal(Self.submit("c", "math.mul", [1, 2], "t1"), peer: "C")?.code == -32020)
        #expect(h.refusal(Self.submit("c", "math.add", [], "t1"), peer: "C")?.message == "task id \"c-t1\" is taken")
        // "a" + "b-c" and "a-b" + "c" spell the same full id: another client's task is taken.
        h.value(.clientConnect(clientID: "a"), peer: "A")
        h.value(.clientConnect(clientID: "a-b"), peer: "B")
        #expect(h.value(Self.submit("a", "math.add", [1], "b-c"), peer: "A") == "a-b-c")
        #expect(h.refusal(Self.submit("a-b", "math.add", [1], "c"), peer: "B")?.code == -32020)
        #expect(h.state.queuedCount == 2 && h.state.counters.submitted == 2)
    }
}
