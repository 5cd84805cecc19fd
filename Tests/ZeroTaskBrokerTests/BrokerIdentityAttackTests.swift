import Foundation
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The attacks of issue 14 on a real broker over real sockets, each failing: a peer never acts
/// for another (without keys, by connection; with CURVE keys, by connection and key), and with
/// keys a tenant never sees another's clients or tasks.
@Suite struct BrokerIdentityAttackTests {
    /// A broker with client "c" holding task "c-t", assigned to node "n1"; the attacker's socket
    /// is a fresh connection.
    final class Victims {
        let broker: TestBroker
        let client: TestPeer
        let node: TestPeer
        let attacker: TestPeer

        init() throws {
            broker = try TestBroker()
            client = try broker.peer()
            node = try broker.peer()
            attacker = try broker.peer()
            #expect(try client.result("client_connect", ["c"]) == "c")
            #expect(try node.result("node_connect", ["node_id": "n1", "methods": ["work"]]) == "n1")
            #expect(try client.result("client_new_task", ["c", "work", [], "t"]) == "c-t")
            #expect(try node.result("node_task_request", ["n1", "c-t"])["id"] == "c-t")
        }

        func status() throws -> JSONValue { try client.result("client_task_status", ["c", "c-t"]) }
    }

    @Test func aForgedReportWithoutRegisteringIsRefused() throws {
        let v = try Victims()
        #expect(try v.attacker.error("node_task_finished", ["c-t", "forged"])?.code == -32030)
        #expect(try v.attacker.error("node_task_finished", ["n1", "c-t", "forged"])?.code == -32030)
        #expect(try v.status() == .int(TaskStatus.assigned.rawValue))
        // A registered node that does not hold the task cannot report it either.
        #expect(try v.attacker.result("node_connect", ["node_id": "rogue", "methods": ["work"]]) == "rogue")
        #expect(try v.attacker.error("node_task_finished", ["c-t", "forged"])?.code == -32020)
        #expect(try v.attacker.error("node_task_finished", ["node_id": "rogue", "task_id": "c-t", "result": "forged"])?.code == -32020)
        #expect(try v.status() == .int(TaskStatus.assigned.rawValue))
        #expect(try v.node.result("node_task_finished", ["n1", "c-t", "real"]) == true)
        #expect(try v.client.result("client_task_result", ["c", "c-t"]) == "real")
    }

    @Test func aSecondConnectionCannotReportForOrDisconnectANode() throws {
        let v = try Victims()
        #expect(try v.attacker.error("node_task_finished", ["node_id": "n1", "task_id": "c-t", "result": "forged"])?.code == -32030)
        #expect(try v.attacker.error("node_task_failed", ["n1", "c-t", ["code": 1, "message": "forged"]])?.code == -32030)
        #expect(try v.attacker.error("node_disconnect", ["n1"])?.code == -32030)
        #expect(try v.attacker.error("node_connect", ["node_id": "n1", "methods": ["work"]])?.code == -32030)
        // The node is still registered, still holds its task, and still serves.
        let nodes = try v.client.result("nodes").arrayValue ?? []
        #expect(nodes.map { $0["node_id"] } == ["n1"] && nodes.first?["assigned"] == 1)
        #expect(try v.status() == .int(TaskStatus.assigned.rawValue))
        #expect(try v.node.result("node_heartbeat", ["n1"]) == true)
    }

    @Test func aClientIDInUseCannotBeTakenOrUsed() throws {
        let v = try Victims()
        #expect(try v.attacker.error("client_connect", ["c"])?.code == -32010)
        #expect(try v.attacker.error("client_task_result", ["c", "c-t"])?.code == -32010)
        #expect(try v.attacker.error("client_cancel_task", ["c", "c-t"])?.code == -32010)
        #expect(try v.status() == .int(TaskStatus.assigned.rawValue))
    }

    @Test func aNodeReconnectingWithItsRoutingIDCarriesOn() throws {
        let broker = try TestBroker()
        let client = try broker.peer()
        _ = try client.result("client_connect", ["c"])
        func nodeSocket() throws -> TestPeer {
            try TestPeer(context: broker.context, .dealer) { s in
                try s.setRoutingID(Array("node:n1".utf8))
                try s.connect(broker.request)
            }
        }
        var node = try nodeSocket()
        _ = try node.result("node_connect", ["node_id": "n1", "methods": ["work"]])
        _ = try client.result("client_new_task", ["c", "work", [], "t"])
        #expect(try node.result("node_task_request", ["n1", "c-t"])["id"] == "c-t")
        // The node's socket is replaced (a new connection, the same routing id: ROUTER handover).
        node.socket.close(lingerMilliseconds: 0)
        node = try nodeSocket()
        #expect(try node.result("node_task_finished", ["n1", "c-t", 7]) == true)
        #expect(try client.result("client_task_result", ["c", "c-t"]) == 7)
    }

    // MARK: with CURVE keys

    @Test func withKeysARoutingIDCannotBeTakenAndANodesKeyMovesItToANewConnection() throws {
        let b = try BrokerCurveTests.Secured(peers: [("acme", .client), ("n1", .node), ("n2", .node)])
        // A routing id the thief knows (nodes with keys use libzmq's own, which nobody knows).
        let n1 = try b.peer(b.keys["n1"], routingID: "known-id")
        #expect(try b.call(n1, "node_connect", ["node_id": "n1", "methods": ["work"]]).outcome == .success("n1"))
        // Another allowed key sets the same routing id. With ROUTER handover it would take n1's
        // connection and its replies; with keys the broker never hands a routing id over.
        let thief = try b.peer(b.keys["n2"], routingID: "known-id")
        #expect(throws: TimedOut.self) { try b.call(thief, "node_heartbeat", ["n2"]) }
        thief.close(lingerMilliseconds: 0)
        let a = try b.peer(b.keys["acme"])
        defer { a.close(lingerMilliseconds: 0) }
        #expect(try b.call(a, "client_connect", ["c"]).outcome == .success("c"))
        #expect(try b.call(a, "client_new_task", ["c", "work", [], "t"]).outcome == .success("c-t"))
        let pulled = try b.call(n1, "node_task_pull", ["n1", 1, 5]).outcome.get().arrayValue ?? []
        #expect(pulled.first?["id"] == "acme:c-t", "\(pulled)")
        // n1 restarts: a new connection (a new routing id, its old one still open), its key.
        // The key proves it is n1: its id moves there, and it confirms what it holds.
        let again = try b.peer(b.keys["n1"])
        defer { again.close(lingerMilliseconds: 0) }
        #expect(try b.call(again, "node_connect", ["node_id": "n1", "methods": ["work"]]).outcome == .success("n1"))
        #expect(try b.call(again, "node_heartbeat", ["n1"]).outcome == .success(true))
        #expect(try b.call(again, "node_task_finished", ["n1", "acme:c-t", 7]).outcome == .success(true))
        #expect(try b.call(a, "client_task_result", ["c", "c-t"]).outcome == .success(7))
        // The old connection no longer speaks for n1, and another key still cannot take it.
        if case .failure(let e) = try b.call(n1, "node_heartbeat", ["n1"]).outcome { #expect(e.code == -32030) } else { Issue.record("old connection still n1") }
        n1.close(lingerMilliseconds: 0)
        let other = try b.peer(b.keys["n2"])
        defer { other.close(lingerMilliseconds: 0) }
        if case .failure(let e) = try b.call(other, "node_connect", ["node_id": "n1"]).outcome { #expect(e.code == -32030) } else { Issue.record("n2's key took n1") }
    }

    @Test func withKeysTenantsAreApartAndNodesSpeakOnlyForThemselves() throws {
        let b = try BrokerCurveTests.Secured(peers: [("acme", .client), ("globex", .client), ("n1", .node), ("n2", .node), ("ops", .admin)])
        let a = try b.peer(b.keys["acme"]), g = try b.peer(b.keys["globex"])
        let n1 = try b.peer(b.keys["n1"]), n2 = try b.peer(b.keys["n2"]), ops = try b.peer(b.keys["ops"])
        defer { [a, g, n1, n2, ops].forEach { $0.close(lingerMilliseconds: 0) } }
        func code(_ r: Response) -> Int64? { if case .failure(let e) = r.outcome { e.code } else { nil } }

        // The same client id in two tenants.
        #expect(try b.call(a, "client_connect", ["c1"]).outcome == .success("c1"))
        #expect(try b.call(g, "client_connect", ["c1"]).outcome == .success("c1"))
        #expect(try b.call(a, "client_new_task", ["c1", "work", [], "t"]).outcome == .success("c1-t"))
        // Globex cannot read, wait on, cancel or even learn of acme's task.
        for method in ["client_task_status", "client_task_result", "client_task_info", "client_cancel_task"] {
            #expect(code(try b.call(g, method, ["c1", "c1-t"])) == -32020, "\(method)")
        }
        #expect(code(try b.call(g, "client_wait_results", ["c1", ["c1-t"], 1])) == -32020)
        #expect(code(try b.call(g, "client_task_status", ["c1", "acme:c1-t"])) == -32020)

        // The node sees the broker's id; another node key cannot report it or act as n1.
        #expect(try b.call(n1, "node_connect", ["node_id": "n1", "methods": ["work"]]).outcome == .success("n1"))
        #expect(try b.call(n2, "node_connect", ["node_id": "n2", "methods": ["work"]]).outcome == .success("n2"))
        let pulled = try b.call(n1, "node_task_pull", ["n1", 1]).outcome.map { $0.arrayValue?.first?["id"] }
        #expect(pulled == .success("acme:c1-t"))
        #expect(code(try b.call(n2, "node_task_finished", ["n2", "acme:c1-t", "forged"])) == -32020)
        #expect(code(try b.call(n2, "node_task_finished", ["n1", "acme:c1-t", "forged"])) == -32030)
        #expect(code(try b.call(n2, "node_disconnect", ["n1"])) == -32030)
        #expect(try b.call(n1, "node_task_finished", ["n1", "acme:c1-t", "real"]).outcome == .success(true))

        #expect(try b.call(a, "client_task_result", ["c1", "c1-t"]).outcome == .success("real"))
        #expect(code(try b.call(g, "client_task_result", ["c1", "c1-t"])) == -32020)
        // An admin reads every tenant's tasks by the broker's ids.
        #expect(try b.call(ops, "client_connect", ["ops"]).outcome == .success("ops"))
        #expect(try b.call(ops, "client_task_result", ["ops", "acme:c1-t"]).outcome == .success("real"))
    }
}
