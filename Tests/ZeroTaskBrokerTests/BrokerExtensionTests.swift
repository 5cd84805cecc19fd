import Foundation
import Testing
import ZeroMQ
import ZeroTaskTestSupport
import ZeroTaskBroker
import ZeroTaskProtocol

/// The extensions of PROTOCOL.md: discovery, cancel, inspect, and the fast path.
@Suite struct BrokerExtensionTests {
    @Test func nodePullLongPollsAndGetsWorkWithoutNotifications() throws {
        let broker = try TestBroker()
        let node = try broker.peer(.dealer)
        let client = try broker.peer()
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["add"], "workers": 2])
        _ = try client.result("client_connect", ["c"])
        // Park a pull, then submit: the parked pull is answered with the task.
        try node.sendRaw(Request(method: "zerotask.broker.node_task_pull", params: .named(["node_id": "n", "max": 2, "wait": 10]), id: 9).json.jsonBytes, delimiter: true)
        #expect(try node.expectSilence(seconds: 0.2))
        let tid = try client.result("client_new_task", ["c", "add", [1, 2]])
        let reply = Response(json: try node.receiveJSON())!
        #expect(reply.id == 9)
        let got = try reply.outcome.get().arrayValue ?? []
        #expect(got.count == 1 && got[0]["id"] == tid)
        // Report it and pull again in one request.
        let more = try node.result("node_task_pull", ["node_id": "n", "max": 2, "done": [["id": tid, "result": 3]]])
        #expect(more == [])
        #expect(try client.result("client_task_result", ["c", tid]) == 3)
    }

    @Test func pullRespectsFreeCapacityAndPriority() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let client = try broker.peer()
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"], "workers": 2])
        _ = try client.result("client_connect", ["c"])
        _ = try client.result("client_new_task", ["client_id": "c", "method": "m", "params": [], "task_id": "low"])
        _ = try client.result("client_new_task", ["client_id": "c", "method": "m", "params": [], "task_id": "high", "priority": 5])
        _ = try client.result("client_new_task", ["client_id": "c", "method": "m", "params": [], "task_id": "low2"])
        let first = try node.result("node_task_pull", ["node_id": "n", "max": 10])
        #expect(first.arrayValue?.map { $0["id"] } == ["c-high", "c-low"])
        // Both workers busy: nothing more, even when asked.
        #expect(try node.result("node_task_pull", ["node_id": "n", "max": 10]) == [])
        _ = try node.result("node_tasks_done", ["n", [["id": "c-high", "result": 1]]])
        #expect(try node.result("node_task_pull", ["node_id": "n", "max": 10]).arrayValue?.map { $0["id"] } == ["c-low2"])
    }

    @Test func clientWaitsForResultsInOneLongPoll() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let client = try broker.peer(.dealer)
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"]])
        _ = try client.result("client_connect", ["c"])
        let ids = try client.result("client_new_tasks", ["c", [["method": "m", "params": [1]], ["method": "m", "params": [2]], ["method": "bad name!", "params": []]]])
        let list = ids.arrayValue ?? []
        #expect(list.count == 3)
        #expect(list[2]["code"] == -32602)
        try client.sendRaw(Request(method: "zerotask.broker.client_wait_results", params: .positional(["c", [list[0], list[1]], 10]), id: 5).json.jsonBytes, delimiter: true)
        #expect(try client.expectSilence(seconds: 0.2))
        let tasks = try node.result("node_task_pull", ["node_id": "n", "max": 5])
        #expect(tasks.arrayValue?.count == 2)
        _ = try node.result("node_tasks_done", ["n", [["id": list[1], "error": ["code": 3, "message": "no"]]]])
        let reply = Response(json: try client.receiveJSON())!
        let done = try reply.outcome.get().arrayValue ?? []
        #expect(done.count == 1)
        #expect(done[0]["task_id"] == list[1] && done[0]["error"]?["code"] == 3 && done[0]["status"] == 9000)
        // A wait that expires answers an empty list.
        let r = try client.result("client_wait_results", ["c", [list[0]], 0.2])
        #expect(r == [])
    }

    @Test func cancelQueuedAndRunningTasks() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let client = try broker.peer()
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"]])
        _ = try client.result("client_connect", ["c"])
        let queued = try client.result("client_new_task", ["c", "m", [], "q"])
        let running = try client.result("client_new_task", ["c", "m", [], "r"])
        _ = try node.result("node_task_request", ["n", running])
        #expect(try client.result("client_cancel_task", ["c", queued]) == true)
        #expect(try client.result("client_cancel_task", ["c", running]) == true)
        #expect(try client.result("client_cancel_task", ["c", running]) == false)  // already complete
        #expect(try client.error("client_task_result", ["c", queued])?.code == -32062)
        #expect(try client.error("client_task_result", ["c", running])?.code == -32062)
        // The node learns the task is gone; its late report is accepted quietly.
        #expect(try node.result("node_check_tasks", ["n", [running]]) == [running])
        #expect(try node.result("node_task_failed", ["n", running, ["code": -32062, "message": "cancelled"]]) == true)
        // The queued one is not handed out.
        #expect(try node.result("node_task_pull", ["node_id": "n", "max": 5]) == [])
        #expect(try node.result("node_task_request", ["n", queued]) == [:])
    }

    @Test func methodsNodesAndStatsDescribeTheSystem() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let client = try broker.peer()
        let desc: JSONValue = ["name": "math.add", "params": [["name": "a", "type": "int64"]], "returns": "int64", "doc": "a + b"]
        _ = try node.result("node_connect", ["node_id": "n", "methods": [desc, "text.upper"], "workers": 3])
        _ = try client.result("client_connect", ["c"])
        _ = try client.result("client_new_task", ["c", "math.add", [1, 2]])
        _ = try client.result("client_new_task", ["c", "math.add", [1, 2]])
        _ = try node.result("node_task_pull", ["node_id": "n", "max": 1])
        let methods = try client.result("methods").arrayValue ?? []
        #expect(methods.map { $0["name"] } == ["math.add", "text.upper"])
        #expect(methods[0]["doc"] == "a + b" && methods[0]["nodes"] == ["n"])
        #expect(methods[0]["queued"] == 1 && methods[0]["running"] == 1)
        let nodes = try client.result("nodes").arrayValue ?? []
        #expect(nodes.count == 1 && nodes[0]["workers"] == 3 && nodes[0]["assigned"] == 1)
        let stats = try client.result("stats")
        #expect(stats["tasks"] == 2 && stats["queued"] == 1 && stats["assigned"] == 1)
        // A re-advertisement replaces the method list.
        _ = try node.result("node_advertise", ["n", ["text.upper"]])
        #expect(try client.result("methods").arrayValue?.first(where: { $0["name"] == "math.add" })?["nodes"] == [])
    }

    @Test func lateResultFromAPresumedDeadNodeIsAcceptedOnce() throws {
        let broker = try TestBroker { $0.nodeTimeout = 0.3 }
        let client = try broker.peer()
        let slow = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        _ = try slow.result("node_connect", ["node_id": "slow", "methods": ["m"]])
        let tid = try client.result("client_new_task", ["c", "m", []])
        _ = try slow.result("node_task_request", ["slow", tid])
        #expect(try eventually { try client.result("client_task_status", ["c", tid]) == .int(1000) })
        // The node comes back and registers again, then reports: nobody else finished it, so it stands.
        _ = try slow.result("node_connect", ["node_id": "slow", "methods": ["m"]])
        #expect(try slow.result("node_task_finished", ["slow", tid, "late"]) == true)
        #expect(try client.result("client_task_result", ["c", tid]) == "late")
        #expect(try slow.error("node_task_finished", ["slow", tid, "other"])?.code == -32020)
        #expect(try client.result("client_task_result", ["c", tid]) == "late")
    }

    @Test func backpressureRefusesBeyondTheQueueLimit() throws {
        let broker = try TestBroker { $0.maxQueuedPerMethod = 3 }
        let client = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        for _ in 0..<3 { _ = try client.result("client_new_task", ["c", "m", []]) }
        let e = try client.error("client_new_task", ["c", "m", []])
        #expect(e?.code == -32070)
        #expect(e?.message.contains("m") == true)
        _ = try client.result("client_new_task", ["c", "other", []])
    }

    @Test func nodeCapacityAllowsPrefetchAndReleaseHandsTasksBack() throws {
        let broker = try TestBroker()
        let fast = try broker.peer()
        let other = try broker.peer()
        let client = try broker.peer()
        _ = try fast.result("node_connect", ["node_id": "fast", "methods": ["m"], "workers": 1, "capacity": 3])
        _ = try other.result("node_connect", ["node_id": "other", "methods": ["m"], "workers": 1])
        _ = try client.result("client_connect", ["c"])
        for i in 0..<4 { _ = try client.result("client_new_task", ["client_id": "c", "method": "m", "params": [], "task_id": .string("t\(i)")]) }
        // One worker, capacity three: three tasks at once, no more.
        let got = try fast.result("node_task_pull", ["node_id": "fast", "max": 10]).arrayValue?.compactMap { $0["id"] }
        #expect(got == ["c-t0", "c-t1", "c-t2"])
        #expect(try fast.result("node_task_pull", ["node_id": "fast", "max": 10]) == [])
        // It hands two back: they are queued again, first in line, with no attempt counted.
        #expect(try fast.result("node_task_release", ["fast", ["c-t1", "c-t2", "c-unknown"]]) == 2)
        #expect(try client.result("client_task_status", ["c", "c-t1"]) == .int(1000))
        #expect(try client.result("client_task_info", ["c", "c-t1"])["attempts"] == 0)
        #expect(try other.result("node_task_pull", ["node_id": "other", "max": 1]).arrayValue?.first?["id"] == "c-t1")
        // Only its own tasks: another node's are not released.
        #expect(try fast.result("node_task_release", ["fast", ["c-t1"]]) == 0)
        #expect(try client.result("client_task_status", ["c", "c-t1"]) == .int(3000))
    }

    @Test func clientCallSubmitsAndAnswersWhenTheTaskCompletes() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let client = try broker.peer(.dealer)
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"]])
        _ = try client.result("client_connect", ["c"])
        // One request: it is answered only once the task is done.
        try client.sendRaw(Request(method: "zerotask.broker.client_call",
            params: .named(["client_id": "c", "method": "m", "params": [2], "task_id": "x", "wait": 10]), id: 7).json.jsonBytes, delimiter: true)
        #expect(try client.expectSilence(seconds: 0.2))
        #expect(try node.result("node_task_pull", ["node_id": "n", "max": 1]).arrayValue?.first?["id"] == "c-x")
        _ = try node.result("node_tasks_done", ["n", [["id": "c-x", "result": 4]]])
        let reply = Response(json: try client.receiveJSON())!
        #expect(reply.id == 7)
        #expect(try reply.outcome.get() == ["task_id": "c-x", "status": 7000, "result": 4])
        // A failed task's entry carries its error; a wait that ends first gives the status only.
        try client.sendRaw(Request(method: "zerotask.broker.client_call",
            params: .named(["client_id": "c", "method": "m", "params": [], "task_id": "y", "wait": 0.2]), id: 8).json.jsonBytes, delimiter: true)
        let early = Response(json: try client.receiveJSON())!
        #expect(try early.outcome.get() == ["task_id": "c-y", "status": 1000])
        // The id is taken now: by other params -32020; the same call again is a resend and waits.
        #expect(try client.error("client_call", ["c", "m", [1], "y"])?.code == -32020)
    }
}
