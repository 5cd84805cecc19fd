import Foundation
import Testing
import ZeroMQ
import ZeroTaskTestSupport
import ZeroTaskBroker
import ZeroTaskProtocol

/// The seed protocol, end to end over real sockets, in both parameter forms.
@Suite struct BrokerSeedFlowTests {
    @Test func seedFlowPositional() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        let node = try broker.peer()
        #expect(try client.result("client_connect", ["alice"]) == "alice")
        #expect(try node.result("node_connect", ["n1"]) == "n1")
        // The seed node serves whatever it is asked about; advertise add.
        #expect(try node.result("node_advertise", ["n1", ["add"]]) == true)
        let taskID = try client.result("client_new_task", ["alice", "add", [2, 3]])
        guard case .string(let tid) = taskID else { Issue.record("task id \(taskID)"); return }
        #expect(tid.hasPrefix("alice-"))
        #expect(try client.result("client_task_status", ["alice", taskID]) == .int(1000))
        // Seed form: the node is the one connected on this socket.
        let assignment = try node.result("node_task_request", [taskID])
        #expect(assignment["method"] == "add")
        #expect(assignment["params"] == [2, 3])
        #expect(assignment["id"] == taskID)
        #expect(try client.result("client_task_status", ["alice", taskID]) == .int(3000))
        #expect(try client.error("client_task_result", ["alice", taskID])?.code == -32050)
        #expect(try node.result("task_status", ["n1", taskID, 5000]) == true)
        #expect(try client.result("client_task_status", ["alice", taskID]) == .int(5000))
        #expect(try node.result("node_task_finished", [taskID, 5]) == true)
        #expect(try client.result("client_task_status", ["alice", taskID]) == .int(7000))
        #expect(try client.result("client_task_result", ["alice", taskID]) == 5)
        // Reading a result does not delete it.
        #expect(try client.result("client_task_result", ["alice", taskID]) == 5)
        #expect(try client.result("client_disconnect", ["alice"]) == true)
        #expect(try client.error("client_task_status", ["alice", taskID])?.code == -32010)
        // Connecting again keeps the tasks and results.
        #expect(try client.result("client_connect", ["alice"]) == "alice")
        #expect(try client.result("client_task_result", ["alice", taskID]) == 5)
    }

    @Test func originalPrototypeFormsByName() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        let node = try broker.peer()
        #expect(try client.result("client_connect", ["client_id": "bob"]) == "bob")
        #expect(try node.result("node_connect", ["node_id": "n2", "methods": ["mul"], "workers": 2]) == "n2")
        let taskID = try client.result("client_new_task",
            ["client_id": "bob", "method": "mul", "params": ["a": 6, "b": 7], "task_id": "t1"])
        #expect(taskID == "bob-t1")
        let assignment = try node.result("node_task_request", ["node_id": "n2", "task_id": taskID])
        #expect(assignment["params"] == ["a": 6, "b": 7])
        #expect(try node.result("node_task_status", ["node_id": "n2", "task_id": taskID, "status": 5000, "progress": 0.5]) == true)
        let info = try client.result("client_task_info", ["client_id": "bob", "task_id": taskID])
        #expect(info["progress"]?["progress"] == 0.5)
        #expect(info["node_id"] == "n2")
        #expect(try node.result("node_task_finished", ["node_id": "n2", "task_id": taskID, "result": 42]) == true)
        #expect(try client.result("client_task_result", ["client_id": "bob", "task_id": taskID]) == 42)
        // The same client-supplied id again is taken.
        #expect(try client.error("client_new_task", ["bob", "mul", [], "t1"])?.code == -32020)
    }

    @Test func failedTaskResultCarriesTheTasksError() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        let node = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["div"]])
        let tid = try client.result("client_new_task", ["c", "div", [1, 0]])
        _ = try node.result("node_task_request", ["n", tid])
        #expect(try node.result("node_task_failed", [tid, ["code": 7, "message": "division by zero"]]) == true)
        #expect(try client.result("client_task_status", ["c", tid]) == .int(9000))
        let e = try client.error("client_task_result", ["c", tid])
        #expect(e == RPCError(code: 7, message: "division by zero"))
        // A second report for a finished task is refused.
        #expect(try node.error("node_task_finished", ["n", tid, 1])?.code == -32020)
    }

    @Test func clientIDsAreCheckedAndOwned() throws {
        let broker = try TestBroker()
        let a = try broker.peer()
        let b = try broker.peer()
        let generated = try a.result("client_connect")
        #expect(generated.stringValue.map(Identifier.isValidID) == true)
        #expect(try a.result("client_connect", ["a"]) == "a")
        // Active on another connection: taken.
        #expect(try b.error("client_connect", ["a"])?.code == -32010)
        #expect(try b.error("client_connect", ["bad id!"])?.code == -32010)
        #expect(try b.error("client_new_task", ["nobody", "m", []])?.code == -32010)
        _ = try b.result("client_connect", ["b"])
        let tid = try a.result("client_new_task", ["a", "m", []])
        // Another client's task is unknown to b.
        #expect(try b.error("client_task_status", ["b", tid])?.code == -32020)
        #expect(try a.error("client_task_status", ["a", "a-nope"])?.code == -32020)
        #expect(try a.error("client_new_task", ["a", "m", [], "bad id!"])?.code == -32020)
        #expect(try a.error("client_new_task", ["a", "m", 5])?.code == -32602)
        #expect(try a.error("client_new_task", ["a", "zerotask.x", []])?.code == -32602)
    }

    @Test func nodeIDsAreCheckedAndTaken() throws {
        let broker = try TestBroker()
        let n1 = try broker.peer()
        let n2 = try broker.peer()
        #expect(try n1.result("node_connect", ["n"]) == "n")
        #expect(try n1.result("node_connect", ["n"]) == "n")  // the same connection may register again
        #expect(try n2.error("node_connect", ["n"])?.code == -32030)
        #expect(try n2.error("node_connect", ["no good"])?.code == -32030)
        #expect(try n2.error("node_heartbeat", ["ghost"])?.code == -32030)
        #expect(try n2.error("node_heartbeat")?.code == -32030)  // nothing connected on this socket
        #expect(try n1.result("node_heartbeat") == true)
        #expect(try n1.result("node_heartbeat", ["n"]) == true)
        #expect(try n1.result("node_status", ["node_id": "n", "workers": 4, "running": 1]) == true)
        let nodes = try n1.result("nodes")
        #expect(nodes.arrayValue?.first?["workers"] == 4)
        #expect(try n1.result("node_disconnect", ["n"]) == true)
        #expect(try n2.result("node_connect", ["n"]) == "n")
        #expect(try n2.error("node_task_request", ["n", "x-1"])?.code == -32020)
    }

    @Test func twoNodesRaceForOneTaskAndExactlyOneWins() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        let nodes = try (0..<4).map { i in
            let p = try broker.peer(.dealer)
            _ = try p.result("node_connect", ["node_id": .string("n\(i)"), "methods": ["add"]])
            return p
        }
        for round in 0..<20 {
            let tid = try client.result("client_new_task", ["c", "add", [.int(Int64(round)), 1]])
            // Every node asks before any reply is read: the broker orders them.
            for (i, n) in nodes.enumerated() {
                let req = Request(method: "zerotask.broker.node_task_request", params: .positional([.string("n\(i)"), tid]), id: 1)
                try n.sendRaw(req.json.jsonBytes, delimiter: true)
            }
            let replies = try nodes.map { try Response(json: $0.receiveJSON())! }
            let winners = replies.filter { if case .success(let v) = $0.outcome { v["id"] == tid } else { false } }
            let empties = replies.filter { $0.outcome == .success(.object([:])) }
            #expect(winners.count == 1)
            #expect(empties.count == nodes.count - 1)
        }
    }

    @Test func nodeThatStopsHeartbeatingLosesItsTask() throws {
        let broker = try TestBroker { $0.nodeTimeout = 0.5 }
        let client = try broker.peer()
        let dead = try broker.peer()
        let alive = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        _ = try dead.result("node_connect", ["node_id": "dead", "methods": ["add"]])
        _ = try alive.result("node_connect", ["node_id": "alive", "methods": ["add"]])
        let tid = try client.result("client_new_task", ["c", "add", [1, 2]])
        #expect(try dead.result("node_task_request", ["dead", tid])["id"] == tid)
        // `alive` keeps heartbeating; `dead` says nothing more. The task comes back to the queue.
        let requeued = try eventually {
            _ = try alive.result("node_heartbeat", ["alive"])
            return try client.result("client_task_status", ["c", tid]) == .int(1000)
        }
        #expect(requeued)
        #expect(try alive.result("node_task_request", ["alive", tid])["id"] == tid)
        #expect(try alive.result("node_task_finished", ["alive", tid, 3]) == true)
        #expect(try client.result("client_task_result", ["c", tid]) == 3)
        let info = try client.result("client_task_info", ["c", tid])
        #expect(info["attempts"] == 2)
    }

    @Test func lostTaskFailsOnceRetriesAreExhausted() throws {
        let broker = try TestBroker { $0.nodeTimeout = 0.3 }
        let client = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        let tid = try client.result("client_new_task", ["client_id": "c", "method": "m", "params": [], "max_retries": 1])
        for attempt in 0..<2 {
            let node = try broker.peer()
            _ = try node.result("node_connect", ["node_id": .string("n\(attempt)"), "methods": ["m"]])
            #expect(try node.result("node_task_request", [.string("n\(attempt)"), tid])["id"] == tid)
            // This node now goes silent.
            #expect(try eventually { try client.result("client_task_status", ["c", tid]) != .int(3000) })
        }
        #expect(try client.result("client_task_status", ["c", tid]) == .int(9000))
        #expect(try client.error("client_task_result", ["c", tid])?.code == -32063)
    }

    @Test func prefixSubscriptionReceivesOnlyWhatItAskedFor() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        let sub = try TestSubscriber(broker, prefixes: [Notifications.newTaskPrefix(method: "wanted")])
        // PUB drops messages until the subscription is in place: submit until one arrives.
        var first: String?
        #expect(try eventually(5) {
            _ = try client.result("client_new_task", ["c", "other", []])
            _ = try client.result("client_new_task", ["c", "wanted", []])
            first = try sub.receive(seconds: 0.1)
            return first != nil
        })
        let tid = try client.result("client_new_task", ["c", "wanted", [1]])
        _ = try client.result("client_new_task", ["c", "other", [1]])
        var seen: [String] = []
        while let m = try sub.receive(seconds: 0.5) { seen.append(m) }
        #expect(seen.allSatisfy { $0.hasPrefix(Notifications.newTaskPrefix(method: "wanted")) })
        #expect(seen.last == "{\"method\":\"zerotask.node.broker_new_task\",\"params\":{\"method\":\"wanted\",\"task_id\":\(tid.jsonString)},\"jsonrpc\":\"2.0\"}")
    }

    /// `task_result_ready` goes to the client that owns the task: a subscriber for another
    /// client hears nothing of it.
    @Test func resultReadyNotificationForOneClient() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        let node = try broker.peer()
        _ = try client.result("client_connect", ["me"])
        _ = try client.result("client_connect", ["you"])
        _ = try node.result("node_connect", ["node_id": "n", "methods": ["m"]])
        func finish(_ owner: String) throws -> JSONValue {
            let tid = try client.result("client_new_task", [.string(owner), "m", []])
            _ = try node.result("node_task_request", ["n", tid])
            _ = try node.result("node_task_finished", ["n", tid, "ok"])
            return tid
        }
        func note(_ tid: JSONValue) -> String {
            "{\"method\":\"zerotask.client.task_result_ready\",\"params\":{\"task_id\":\(tid.jsonString)},\"jsonrpc\":\"2.0\"}"
        }
        let mine = try TestSubscriber(broker, prefixes: [Notifications.resultReadyPrefix(clientID: "me")])
        let yours = try TestSubscriber(broker, prefixes: [Notifications.resultReadyPrefix(clientID: "you")])
        // PUB drops messages until a subscription is in place (slow joiner): finish tasks until
        // each subscriber has heard one of its own, then empty both.
        for (owner, sub) in [("me", mine), ("you", yours)] {
            #expect(try eventually(10) { _ = try finish(owner); return try sub.receive(seconds: 0.1) != nil }, "\(owner)")
        }
        for sub in [mine, yours] { while try sub.receive(seconds: 0.3) != nil {} }

        let tid = try finish("me")
        #expect(try mine.receive() == note(tid))
        #expect(try yours.receive(seconds: 0.5) == nil)
        let other = try finish("you")
        #expect(try yours.receive() == note(other))
        #expect(try mine.receive(seconds: 0.5) == nil)
    }
}
