import Foundation
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The freeze on a real broker thread and sockets: 100 `client_wait_results` each naming
/// one queued task 1,000 times, then that task's cancel. Before waits were deduplicated and
/// indexed by set, the cancel cost 10^10 steps (22 s in a release build, far longer in debug) and
/// the broker answered nobody meanwhile.
@Suite struct BrokerLongPollAttackTests {
    @Test func manyWaitsOnOneTaskThenItsCancelLeaveTheBrokerAnswering() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        // One connection holds the client id: it waits, and it cancels.
        let waiter = try broker.peer(.dealer)
        #expect(try waiter.result("client_connect", ["att"]) == "att")
        #expect(try waiter.result("client_new_task", ["att", "nobody.serves", [], "t"]) == "att-t")
        let ids = JSONValue.array(Array(repeating: "att-t", count: 1000))
        for i in 0..<100 {
            try waiter.sendRaw(Request(method: "zerotask.broker.client_wait_results", params: .positional(["att", ids, 60]),
                id: .int(Int64(i))).json.jsonBytes)
        }
        // Every wait is parked before the cancel (stats is answered in order after them).
        #expect(try eventually(30) { try client.result("stats")["parked_waits"] == 100 })
        try waiter.sendRaw(Request(method: "zerotask.broker.client_cancel_task", params: .positional(["att", "att-t"]),
            id: 100).json.jsonBytes)
        // Each wait is answered with the task once; the broker answers at once, well within the
        // nodes' timeout (10 s), not after the minutes the old rescans took.
        var answered = 0
        while answered < 101 {
            let r = Response(json: try waiter.receiveJSON(seconds: 10))
            if r?.id == 100 {
                #expect(try r?.outcome.get() == true)
            } else {
                #expect((try? r?.outcome.get())?.arrayValue?.count == 1)
            }
            answered += 1
        }
        let ping = try broker.peer()
        #expect(try ping.result("stats")["parked_waits"] == 0)
    }
}
