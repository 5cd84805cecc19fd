import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Identity bound to the connection (issue 14, point 5) and tenants (point 4), as rules of the
/// state machine: every attack is tried, is refused, and leaves the state as it was.
@Suite struct BrokerStateIdentityTests {
    typealias Harness = BrokerStateTests.Harness
    typealias Kept = BrokerStateJournalTests.Kept

    /// The error code of an answer (nil: not an error).
    static func code(_ a: BrokerAnswer) -> Int64? { if case .error(let e) = a { e.code } else { nil } }

    /// Alice on "C", node n1 on "N" holding alice's task "alice-a"; a stranger may use "X".
    static func nodeHoldingATask() -> Harness {
        var h = Harness()
        h.setUp()
        h.submit("a")
        #expect(Harness.ids(h.result("node_task_pull", ["n1", 1], peer: "N")) == ["alice-a"])
        return h
    }

    /// What an attack could have changed: the task, its node, the node's registration.
    static func snapshot(_ h: Harness) -> [String] {
        let t = h.state.tasks["alice-a"]
        let n = h.state.nodes["n1"]
        return ["\(t?.status as Any)", "\(t?.nodeID as Any)", "\(t?.result as Any)", "\(t?.error as Any)",
            "\(n?.peer as Any)", "\(n?.assigned.sorted() as Any)", "\(n?.methods.keys.sorted() as Any)", "\(n?.workers as Any)"]
    }

    // MARK: nodes

    @Test func aConnectionThatRegisteredNoNodeCannotReportInEitherForm() {
        var h = Self.nodeHoldingATask()
        let before = Self.snapshot(h)
        // The seed form names no node (the connection's is meant) and the original names n1.
        #expect(Self.code(h.call("node_task_finished", ["alice-a", "forged"], peer: "X")) == -32030)
        #expect(Self.code(h.call("node_task_finished", ["task_id": "alice-a", "task_result": "forged"], peer: "X")) == -32030)
        #expect(Self.code(h.call("node_task_finished", ["n1", "alice-a", "forged"], peer: "X")) == -32030)
        #expect(Self.code(h.call("node_task_finished", ["node_id": "n1", "task_id": "alice-a", "result": "forged"], peer: "X")) == -32030)
        #expect(Self.code(h.call("node_task_failed", ["n1", "alice-a", ["code": 1, "message": "forged"]], peer: "X")) == -32030)
        #expect(Self.code(h.call("node_tasks_done", ["n1", [["id": "alice-a", "result": "forged"]]], peer: "X")) == -32030)
        #expect(Self.snapshot(h) == before)
        #expect(h.status("alice-a") == .int(TaskStatus.assigned.rawValue))
    }

    @Test func noNodeMethodSpeaksForANodeFromAnotherConnection() {
        var h = Self.nodeHoldingATask()
        let before = Self.snapshot(h)
        let attempts: [(String, JSONValue)] = [
            ("node_heartbeat", ["n1"]), ("node_disconnect", ["n1"]), ("node_advertise", ["n1", ["other"]]),
            ("node_task_pull", ["node_id": "n1", "max": 5]), ("node_task_release", ["n1", ["alice-a"]]),
            ("node_check_tasks", ["node_id": "n1", "task_ids": [], "complete": true]),
            ("node_task_status", ["n1", "alice-a", 5000]), ("task_status", ["node_id": "n1", "task_id": "alice-a", "status": "RUNNING"]),
            ("node_task_request", ["n1", "alice-a"]), ("node_status", ["node_id": "n1", "workers": 99]),
        ]
        for (method, params) in attempts {
            let answer = h.call(method, params, peer: "X")
            #expect(Self.code(answer) == -32030, "\(method) from another connection answered \(answer)")
        }
        // The real node's registration is untouched: it is still there, holding its task.
        #expect(Self.snapshot(h) == before)
        #expect(h.result("node_heartbeat", ["n1"], peer: "N") == true)
    }

    @Test func aNodeIDInUseOnALiveConnectionCannotBeTaken() {
        var h = Self.nodeHoldingATask()
        let before = Self.snapshot(h)
        let e = h.error("node_connect", ["node_id": "n1", "methods": ["work"]], peer: "X")
        #expect(e?.code == -32030 && e?.message.contains("taken by a live node") == true)
        #expect(Self.snapshot(h) == before)
    }

    @Test func anotherRegisteredNodeCannotReportOrMoveATaskItDoesNotHold() {
        var h = Self.nodeHoldingATask()
        h.result("node_connect", ["node_id": "n2", "methods": ["work"]], peer: "M")
        let before = Self.snapshot(h)
        #expect(h.error("node_task_finished", ["n2", "alice-a", "forged"], peer: "M")?.code == -32020)
        #expect(h.error("node_task_finished", ["node_id": "n2", "task_id": "alice-a", "result": "forged"], peer: "M")?.code == -32020)
        // The seed form: the node of this connection is n2.
        #expect(h.error("node_task_finished", ["alice-a", "forged"], peer: "M")?.code == -32020)
        #expect(h.error("node_task_failed", ["alice-a", ["code": 1, "message": "forged"]], peer: "M")?.code == -32020)
        let batch = h.result("node_tasks_done", ["n2", [["id": "alice-a", "error": ["code": 1, "message": "forged"]]]], peer: "M")
        #expect(batch.arrayValue?.first?["code"] == -32020)
        #expect(h.error("task_status", ["n2", "alice-a", 5000], peer: "M")?.code == -32020)
        #expect(h.result("node_task_release", ["n2", ["alice-a"]], peer: "M") == 0)
        #expect(h.result("node_check_tasks", ["node_id": "n2", "task_ids": ["alice-a"], "complete": true], peer: "M") == ["alice-a"])
        #expect(Self.snapshot(h) == before)
    }

    @Test func withKeysTheKeyMustMatchToo() {
        var h = Harness()
        let n1 = PeerIdentity(role: .node, name: "n1"), n2 = PeerIdentity(role: .node, name: "n2")
        #expect(h.call("node_connect", ["node_id": "n1", "methods": ["work"]], peer: "N", caller: n1) == .result("n1"))
        // Another key on the same routing id (ROUTER handover lets a peer pick any id).
        #expect(Self.code(h.call("node_heartbeat", ["n1"], peer: "N", caller: n2)) == -32030)
        #expect(Self.code(h.call("node_connect", ["node_id": "n1", "methods": ["other"]], peer: "N", caller: n2)) == -32030)
        #expect(Self.code(h.call("node_disconnect", [], peer: "N", caller: n2)) == -32030)
        #expect(h.state.nodes["n1"]?.connection.key == n1 && h.state.nodes["n1"]?.methods.keys.sorted() == ["work"])
        #expect(h.call("node_heartbeat", ["n1"], peer: "N", caller: n1) == .result(true))
    }

    @Test func legitimateReconnectsStillWork() {
        var h = Self.nodeHoldingATask()
        // The same connection registers again.
        h.result("node_connect", ["node_id": "n1", "methods": ["work"]], peer: "N")
        // A node silent past node_timeout is dropped; it may come back on a new connection,
        // and its late result is still heard (the first result stands).
        h.now += h.state.config.nodeTimeout + 1
        h.state.tick(now: h.now)
        #expect(h.state.nodes["n1"] == nil)
        h.result("node_connect", ["node_id": "n1", "methods": ["work"]], peer: "N2")
        #expect(h.result("node_task_finished", ["n1", "alice-a", "late"], peer: "N2") == true)
        #expect(h.result("client_task_result", ["alice", "alice-a"], peer: "C") == "late")
        // A client id nobody used for client_timeout may be taken by a new connection.
        h.now += h.state.config.clientTimeout + 1
        #expect(h.result("client_connect", ["alice"], peer: "C2") == "alice")
        #expect(h.result("client_task_result", ["alice", "alice-a"], peer: "C2") == "late")
    }

    // MARK: clients

    @Test func aClientIDInUseOnALiveConnectionIsNeitherTakenNorUsed() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        let attempts: [(String, JSONValue)] = [
            ("client_connect", ["alice"]), ("client_new_task", ["alice", "work", []]),
            ("client_new_tasks", ["alice", [["work", []]]]), ("client_task_status", ["alice", "alice-a"]),
            ("client_task_result", ["alice", "alice-a"]), ("client_task_info", ["alice", "alice-a"]),
            ("client_cancel_task", ["alice", "alice-a"]), ("client_wait_results", ["alice", ["alice-a"], 5]),
            ("client_call", ["alice", "work", []]), ("client_disconnect", ["alice"]),
        ]
        for (method, params) in attempts {
            let answer = h.call(method, params, peer: "X")
            #expect(Self.code(answer) == -32010, "\(method) from another connection answered \(answer)")
        }
        #expect(h.state.taskCount == 1 && h.status("alice-a") == .int(TaskStatus.queued.rawValue))
        #expect(h.state.clients["alice"]?.connected == true && h.state.clients["alice"]?.connection.peer == Array("C".utf8))
        #expect(h.replies().isEmpty)
    }

    // MARK: tenants

    let tenantA = PeerIdentity(role: .client, name: "acme")
    let tenantB = PeerIdentity(role: .client, name: "globex")
    let admin = PeerIdentity(role: .admin, name: "ops")

    @Test func twoTenantsUseTheSameClientIDAndNeverSeeEachOthersTasks() {
        var h = Harness()
        // Both tenants connect as "c1"; each is told "c1", and each submits task "t".
        #expect(h.call("client_connect", ["c1"], peer: "A", caller: tenantA) == .result("c1"))
        #expect(h.call("client_connect", ["c1"], peer: "B", caller: tenantB) == .result("c1"))
        #expect(h.call("client_new_task", ["c1", "work", [1], "t"], peer: "A", caller: tenantA) == .result("c1-t"))
        #expect(h.call("client_new_tasks", ["c1", [["work", [2], "u"]]], peer: "A", caller: tenantA) == .result(["c1-u"]))
        // B names A's task by the id A was told: it does not exist for B (-32020, never -32040).
        for (method, params) in [("client_task_status", ["c1", "c1-t"]), ("client_task_result", ["c1", "c1-t"]),
            ("client_task_info", ["c1", "c1-t"]), ("client_cancel_task", ["c1", "c1-t"]),
            ("client_wait_results", ["c1", ["c1-t"], 5])] as [(String, JSONValue)]
        {
            guard case .error(let e) = h.call(method, params, peer: "B", caller: tenantB) else {
                Issue.record("\(method) of another tenant's task was answered")
                continue
            }
            #expect(e.code == -32020 && e.message == "unknown task \"c1-t\"", "\(method): \(e)")
        }
        // ... nor by the broker's own id for it.
        #expect(Self.code(h.call("client_task_status", ["c1", "acme:c1-t"], peer: "B", caller: tenantB)) == -32020)
        #expect(h.state.tasks["acme:c1-t"]?.status == .queued)
        // B's own "t" is its own task.
        #expect(h.call("client_new_task", ["c1", "work", [3], "t"], peer: "B", caller: tenantB) == .result("c1-t"))
        #expect(h.call("client_cancel_task", ["c1", "c1-t"], peer: "B", caller: tenantB) == .result(true))
        #expect(h.state.tasks["acme:c1-t"]?.status == .queued && h.state.tasks["globex:c1-t"]?.status == .failed)
        #expect(h.call("client_task_info", ["c1", "c1-t"], peer: "A", caller: tenantA).resultValue?["task_id"] == "c1-t")
        #expect(h.replies().isEmpty)
    }

    @Test func aTenantsIDsReadWithoutThePrefixInEveryAnswer() {
        var h = Harness()
        #expect(h.call("client_connect", [], peer: "A", caller: tenantA).resultValue?.stringValue?.hasPrefix("c") == true)
        _ = h.call("client_connect", ["c1"], peer: "A", caller: tenantA)
        h.result("node_connect", ["node_id": "n1", "methods": ["work"]], peer: "N")
        _ = h.call("client_new_task", ["c1", "work", [], "t"], peer: "A", caller: tenantA)
        #expect(h.call("client_wait_results", ["c1", ["c1-t"], 30], peer: "A", caller: tenantA) == .deferred)
        // The node sees the broker's id; the waiting client is told its own.
        let pulled = h.result("node_task_pull", ["n1", 1], peer: "N")
        #expect(Harness.ids(pulled) == ["acme:c1-t"])
        #expect(Self.code(h.call("client_task_result", ["c1", "c1-t"], peer: "A", caller: tenantA)) == -32050)
        guard case .error(let notDone) = h.call("client_task_result", ["c1", "c1-t"], peer: "A", caller: tenantA) else {
            Issue.record("client_task_result of a queued task was answered")
            return
        }
        #expect(!notDone.message.contains("acme"))
        h.result("node_task_finished", ["n1", "acme:c1-t", 42], peer: "N")
        let late = h.replies().first?.1
        #expect((try? late?.outcome.get()) == [["task_id": "c1-t", "status": 7000, "result": 42]])
        #expect(h.call("client_call", ["client_id": "c1", "method": "work", "params": [], "task_id": "v", "wait": 0], peer: "A", caller: tenantA).resultValue?["task_id"] == "c1-v")
        guard case .error(let taken) = h.call("client_new_task", ["c1", "work", [1], "t"], peer: "A", caller: tenantA) else {
            Issue.record("a taken task id was accepted again")
            return
        }
        #expect(taken.code == -32020 && taken.message == "task id \"c1-t\" is taken")
    }

    @Test func anAdminSeesEveryTenantsTasksByTheBrokersIDs() {
        var h = Harness()
        _ = h.call("client_connect", ["c1"], peer: "A", caller: tenantA)
        _ = h.call("client_new_task", ["c1", "work", [], "t"], peer: "A", caller: tenantA)
        _ = h.call("client_connect", ["ops"], peer: "O", caller: admin)
        #expect(h.call("client_task_status", ["ops", "acme:c1-t"], peer: "O", caller: admin) == .result(.int(TaskStatus.queued.rawValue)))
        #expect(h.call("client_wait_results", ["ops", ["acme:c1-t"], 30], peer: "O", caller: admin) == .deferred)
        #expect(h.call("client_cancel_task", ["ops", "acme:c1-t"], peer: "O", caller: admin) == .result(true))
        let answered = h.replies().first?.1
        #expect((try? answered?.outcome.get())?.arrayValue?.first?["task_id"] == "acme:c1-t")
    }

    @Test func tenantsIDsSurviveARestartWithTheirTenant() {
        var h = BrokerStateJournalTests.journaling()
        var kept = Kept()
        _ = h.call("client_connect", ["c1"], peer: "A", caller: tenantA)
        _ = h.call("client_new_task", ["c1", "work", [], "t"], peer: "A", caller: tenantA)
        kept.apply(h.state.takeChanges())
        #expect(kept.tasks.keys.sorted() == ["acme:c1-t"] && kept.clients.keys.sorted() == ["acme:c1"])
        var r = BrokerStateJournalTests.restarted(kept)
        #expect(r.call("client_task_status", ["c1", "c1-t"], peer: "A2", caller: tenantA) == .result(.int(TaskStatus.queued.rawValue)))
        #expect(Self.code(r.call("client_connect", ["c1"], peer: "B", caller: tenantB)) == nil)
        #expect(Self.code(r.call("client_task_status", ["c1", "c1-t"], peer: "B", caller: tenantB)) == -32020)
    }
}

extension BrokerAnswer {
    /// The result of an answered request (nil for an error or a parked one).
    var resultValue: JSONValue? { if case .result(let v) = self { v } else { nil } }
}
