import Foundation
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Nodes that lose tasks, find them gone, or never got them: the task always ends up run by
/// exactly one holder, and no peer waits forever.
@Suite struct BrokerNodeLossTests {
    @Test func aFailureFromANodeThatNoLongerHoldsTheTaskChangesNothing() throws {
        let broker = try TestBroker { $0.nodeTimeout = 0.5 }
        let client = try broker.peer()
        let a = try broker.peer(), b = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        _ = try a.result("node_connect", ["node_id": "a", "methods": ["m"]])
        let tid = try client.result("client_new_task", ["c", "m", []])
        #expect(try a.result("node_task_request", ["a", tid])["id"] == tid)
        // a goes silent; the task comes back and b takes it.
        _ = try b.result("node_connect", ["node_id": "b", "methods": ["m"]])
        #expect(try eventually {
            _ = try b.result("node_heartbeat", ["b"])
            return try b.result("node_task_request", ["b", tid])["id"] == tid
        })
        // a returns and reports what it made of the task it lost: a cancel, then a crash.
        _ = try a.result("node_connect", ["node_id": "a", "methods": ["m"]])
        #expect(try a.result("node_task_failed", ["a", tid, ["code": -32062, "message": "gone"]]) == true)
        #expect(try a.result("node_task_failed", ["a", tid, ["code": -32061, "message": "crashed"]]) == true)
        let info = try client.result("client_task_info", ["c", tid])
        #expect(info["status"] == 3000 && info["node_id"] == "b")  // still b's, still running
        #expect(try b.result("node_task_finished", ["b", tid, "from b"]) == true)
        #expect(try client.result("client_task_result", ["c", tid]) == "from b")
    }

    @Test func aTaskANodeNeverGotIsQueuedAgainAfterTwoCompleteLists() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        let node = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"], "workers": 2])
        let lost = try client.result("client_new_task", ["c", "m", [], "lost"])
        let kept = try client.result("client_new_task", ["c", "m", [], "kept"])
        // Both are assigned, but the node only ever received `kept` (the other reply was lost).
        #expect(try node.result("node_task_pull", ["node_id": "n", "max": 2]).arrayValue?.count == 2)
        let check: JSONValue = ["node_id": "n", "task_ids": [kept], "complete": true]
        #expect(try node.result("node_check_tasks", check) == [])
        #expect(try client.result("client_task_status", ["c", lost]) == .int(3000))  // one miss: maybe in flight
        #expect(try node.result("node_check_tasks", check) == [])
        #expect(try client.result("client_task_status", ["c", lost]) == .int(1000))  // two: queued again
        #expect(try client.result("client_task_status", ["c", kept]) == .int(3000))
        // A partial list (no `complete`) reclaims nothing.
        #expect(try node.result("node_check_tasks", ["n", []]) == [])
        #expect(try node.result("node_check_tasks", ["n", []]) == [])
        #expect(try client.result("client_task_status", ["c", kept]) == .int(3000))
    }

    @Test func aNodeRegisteringAgainMustConfirmItsTasks() throws {
        let broker = try TestBroker { $0.nodeTimeout = 0.5 }
        let client = try broker.peer()
        let node = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"], "workers": 2])
        let held = try client.result("client_new_task", ["c", "m", [], "held"])
        let forgotten = try client.result("client_new_task", ["c", "m", [], "forgotten"])
        #expect(try node.result("node_task_pull", ["node_id": "n", "max": 2]).arrayValue?.count == 2)
        // The node restarts with the same id on the same routing id: it holds only one of them.
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"], "workers": 2])
        #expect(try node.result("node_check_tasks", ["n", [held]]) == [])
        #expect(try eventually {
            _ = try node.result("node_heartbeat", ["n"])
            return try client.result("client_task_status", ["c", forgotten]) == .int(1000)
        })
        #expect(try client.result("client_task_status", ["c", held]) == .int(3000))
    }

    @Test func aDroppedNodesParkedPullIsAnswered() throws {
        let broker = try TestBroker { $0.nodeTimeout = 0.3 }
        let node = try broker.peer(.req)
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"]])
        // A REQ node parks a long pull and, being REQ, cannot heartbeat while it waits.
        try node.sendRaw(Request(method: "zerotask.broker.node_task_pull", params: .named(["node_id": "n", "wait": 30]), id: 1).json.jsonBytes)
        let reply = try node.receiveJSON(seconds: 10)
        #expect(reply["result"] == [])
        // It was dropped: the other node's heartbeat is refused, its own registers it again.
        let other = try broker.peer(.req)
        #expect(try other.error("node_heartbeat", ["n"])?.code == -32030)
        #expect(try node.result("node_heartbeat", ["n"]) == true)
    }
}
