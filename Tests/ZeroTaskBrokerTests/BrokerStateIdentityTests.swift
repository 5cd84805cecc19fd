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
        #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) == ["alice-a"])
        return h
    }

    /// What an attack could have changed: the task, its node, the node's registration.
    static func snapshot(_ h: Harness) -> [String] {
        let t = h.state.tasks["alice-a"]
        let n = h.state.nodes["n1"]
        return ["\(t?.status as Any)", "\(t?.nodeID as Any)", "\(t?.result as Any)", "\(t?.error as Any)",
            "\(n?.peer as Any)", "\(n?.assigned.sorted() as Any)", "\(n?.methods.keys.sorted() as Any)", "\(n?.workers as Any)"]
    }

    /// `node_connect` of `node` serving `methods`, as registered by name.
    static func connect(_ node: String, _ methods: [JSONValue] = ["work"]) -> BrokerCommand {
        .nodeConnect(nodeID: node, methods: methods, workers: nil, capacity: nil, unavailable: [:])
    }

    static let forged = BrokerCommand.TaskOutcome(taskID: "alice-a", outcome: .success("forged"))
    static let forgedError = BrokerCommand.TaskOutcome(taskID: "alice-a", outcome: .failure(RPCError(code: 1, message: "forged")))

    /// `client_new_task` of `client`'s task `taskID` with `params`.
    static func submit(_ client: String, _ params: JSONValue = [], _ taskID: String? = nil) -> BrokerCommand {
        .submit(clientID: client, Submission(method: "work", params: params, taskID: taskID))
    }

    // MARK: nodes

    @Test func aConnectionThatRegisteredNoNodeCannotReportInEitherForm() {
        var h = Self.nodeHoldingATask()
        let before = Self.snapshot(h)
        // The seed form names no node (the connection's is meant) and the original names n1.
        // Each form's positional and named spellings are one command (BrokerCommandDecodingTests).
        #expect(Self.code(h.run(.report(nodeID: nil, Self.forged), peer: "X")) == -32030)
        #expect(Self.code(h.run(.report(nodeID: "n1", Self.forged), peer: "X")) == -32030)
        #expect(Self.code(h.run(.report(nodeID: "n1", Self.forgedError), peer: "X")) == -32030)
        #expect(Self.code(h.run(.reportMany(nodeID: "n1", [Self.forged]), peer: "X")) == -32030)
        #expect(Self.snapshot(h) == before)
        #expect(h.status("alice-a") == .int(TaskStatus.assigned.rawValue))
    }

    @Test func noNodeMethodSpeaksForANodeFromAnotherConnection() {
        var h = Self.nodeHoldingATask()
        let before = Self.snapshot(h)
        // `node_task_status` and `task_status` are one command.
        let attempts: [BrokerCommand] = [
            .heartbeat(nodeID: "n1"), .nodeDisconnect(nodeID: "n1"),
            .advertise(nodeID: "n1", methods: ["other": ["name": "other"]], workers: nil, capacity: nil, unavailable: [:]),
            .pull(nodeID: "n1", max: 5, wait: nil, done: []), .release(nodeID: "n1", taskIDs: ["alice-a"]),
            .checkTasks(nodeID: "n1", taskIDs: [], complete: true),
            .taskStatus(nodeID: "n1", taskID: "alice-a", status: .running, fields: [:]),
            .claim(nodeID: "n1", taskID: "alice-a"), .nodeStatus(nodeID: "n1", fields: ["workers": 99]),
        ]
        for command in attempts {
            let answer = h.run(command, peer: "X")
            #expect(Self.code(answer) == -32030, "\(command) from another connection answered \(answer)")
        }
        // The real node's registration is untouched: it is still there, holding its task.
        #expect(Self.snapshot(h) == before)
        #expect(h.value(.heartbeat(nodeID: "n1"), peer: "N") == true)
    }

    @Test func aNodeIDInUseOnALiveConnectionCannotBeTaken() {
        var h = Self.nodeHoldingATask()
        let before = Self.snapshot(h)
        let e = h.refusal(Self.connect("n1"), peer: "X")
        #expect(e?.code == -32030 && e?.message.contains("taken by a live node") == true)
        #expect(Self.snapshot(h) == before)
    }

    @Test func anotherRegisteredNodeCannotReportOrMoveATaskItDoesNotHold() {
        var h = Self.nodeHoldingATask()
        h.value(Self.connect("n2"), peer: "M")
        let before = Self.snapshot(h)
        #expect(h.refusal(.report(nodeID: "n2", Self.forged), peer: "M")?.code == -32020)
        // The seed form: the node of this connection is n2.
        #expect(h.refusal(.report(nodeID: nil, Self.forged), peer: "M")?.code == -32020)
        #expect(h.refusal(.report(nodeID: nil, Self.forgedError), peer: "M")?.code == -32020)
        let batch = h.value(.reportMany(nodeID: "n2", [Self.forgedError]), peer: "M")
        #expect(batch.arrayValue?.first?["code"] == -32020)
        #expect(h.refusal(.taskStatus(nodeID: "n2", taskID: "alice-a", status: .running, fields: [:]), peer: "M")?.code == -32020)
        #expect(h.value(.release(nodeID: "n2", taskIDs: ["alice-a"]), peer: "M") == 0)
        #expect(h.value(.checkTasks(nodeID: "n2", taskIDs: ["alice-a"], complete: true), peer: "M") == ["alice-a"])
        #expect(Self.snapshot(h) == before)
    }

    @Test func withKeysTheKeyMustMatchToo() {
        var h = Harness()
        let n1 = PeerIdentity(role: .node, name: "n1"), n2 = PeerIdentity(role: .node, name: "n2")
        #expect(h.run(Self.connect("n1"), peer: "N", caller: n1) == .reply(.id("n1")))
        // Another key on the same routing id (ROUTER handover lets a peer pick any id).
        #expect(Self.code(h.run(.heartbeat(nodeID: "n1"), peer: "N", caller: n2)) == -32030)
        #expect(Self.code(h.run(Self.connect("n1", ["other"]), peer: "N", caller: n2)) == -32030)
        #expect(Self.code(h.run(.nodeDisconnect(nodeID: nil), peer: "N", caller: n2)) == -32030)
        #expect(h.state.nodes["n1"]?.connection.key == n1 && h.state.nodes["n1"]?.methods.keys.sorted() == ["work"])
        #expect(h.run(.heartbeat(nodeID: "n1"), peer: "N", caller: n1) == .reply(.accepted))
    }

    @Test func legitimateReconnectsStillWork() {
        var h = Self.nodeHoldingATask()
        // The same connection registers again.
        h.value(Self.connect("n1"), peer: "N")
        // A node silent past node_timeout is dropped; it may come back on a new connection,
        // and its late result is still heard (the first result stands).
        h.now += h.state.config.nodeTimeout + 1
        h.state.tick(now: h.now)
        #expect(h.state.nodes["n1"] == nil)
        h.value(Self.connect("n1"), peer: "N2")
        #expect(h.value(.report(nodeID: "n1", .init(taskID: "alice-a", outcome: .success("late"))), peer: "N2") == true)
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C") == "late")
        // A client id nobody used for client_timeout may be taken by a new connection.
        h.now += h.state.config.clientTimeout + 1
        #expect(h.value(.clientConnect(clientID: "alice"), peer: "C2") == "alice")
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C2") == "late")
    }

    // MARK: clients

    @Test func aClientIDInUseOnALiveConnectionIsNeitherTakenNorUsed() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        let attempts: [BrokerCommand] = [
            .clientConnect(clientID: "alice"), Self.submit("alice"),
            .submitMany(clientID: "alice", [.success(Submission(method: "work", params: []))]),
            .clientTask(.status, clientID: "alice", taskID: "alice-a"),
            .clientTask(.result, clientID: "alice", taskID: "alice-a"), .clientTask(.info, clientID: "alice", taskID: "alice-a"),
            .clientTask(.cancel, clientID: "alice", taskID: "alice-a"), .waitResults(clientID: "alice", taskIDs: ["alice-a"], wait: 5),
            .call(clientID: "alice", Submission(method: "work", params: []), wait: nil), .clientDisconnect(clientID: "alice"),
        ]
        for command in attempts {
            let answer = h.run(command, peer: "X")
            #expect(Self.code(answer) == -32010, "\(command) from another connection answered \(answer)")
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
        #expect(h.run(.clientConnect(clientID: "c1"), peer: "A", caller: tenantA) == .reply(.id("c1")))
        #expect(h.run(.clientConnect(clientID: "c1"), peer: "B", caller: tenantB) == .reply(.id("c1")))
        #expect(h.run(Self.submit("c1", [1], "t"), peer: "A", caller: tenantA) == .reply(.id("c1-t")))
        #expect(h.run(.submitMany(clientID: "c1", [.success(Submission(method: "work", params: [2], taskID: "u"))]), peer: "A", caller: tenantA)
            == .reply(.submitted([.success("c1-u")])))
        // B names A's task by the id A was told: it does not exist for B (-32020, never -32040).
        for command: BrokerCommand in [.clientTask(.status, clientID: "c1", taskID: "c1-t"), .clientTask(.result, clientID: "c1", taskID: "c1-t"),
            .clientTask(.info, clientID: "c1", taskID: "c1-t"), .clientTask(.cancel, clientID: "c1", taskID: "c1-t"),
            .waitResults(clientID: "c1", taskIDs: ["c1-t"], wait: 5)]
        {
            guard case .error(let e) = h.run(command, peer: "B", caller: tenantB) else {
                Issue.record("\(command) of another tenant's task was answered")
                continue
            }
            #expect(e.code == -32020 && e.message == "unknown task \"c1-t\"", "\(command): \(e)")
        }
        // ... nor by the broker's own id for it.
        #expect(Self.code(h.run(.clientTask(.status, clientID: "c1", taskID: "acme:c1-t"), peer: "B", caller: tenantB)) == -32020)
        #expect(h.state.tasks["acme:c1-t"]?.status == .queued)
        // B's own "t" is its own task.
        #expect(h.run(Self.submit("c1", [3], "t"), peer: "B", caller: tenantB) == .reply(.id("c1-t")))
        #expect(h.run(.clientTask(.cancel, clientID: "c1", taskID: "c1-t"), peer: "B", caller: tenantB) == .reply(.flag(true)))
        #expect(h.state.tasks["acme:c1-t"]?.status == .queued && h.state.tasks["globex:c1-t"]?.status == .failed)
        #expect(h.run(.clientTask(.info, clientID: "c1", taskID: "c1-t"), peer: "A", caller: tenantA).resultValue?["task_id"] == "c1-t")
        #expect(h.replies().isEmpty)
    }

    @Test func aTenantsIDsReadWithoutThePrefixInEveryAnswer() {
        var h = Harness()
        #expect(h.run(.clientConnect(clientID: nil), peer: "A", caller: tenantA).resultValue?.stringValue?.hasPrefix("c") == true)
        _ = h.run(.clientConnect(clientID: "c1"), peer: "A", caller: tenantA)
        h.value(Self.connect("n1"), peer: "N")
        _ = h.run(Self.submit("c1", [], "t"), peer: "A", caller: tenantA)
        #expect(h.run(.waitResults(clientID: "c1", taskIDs: ["c1-t"], wait: 30), peer: "A", caller: tenantA) == .deferred)
        // The node sees the broker's id; the waiting client is told its own.
        let pulled = h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        #expect(Harness.ids(pulled) == ["acme:c1-t"])
        #expect(Self.code(h.run(.clientTask(.result, clientID: "c1", taskID: "c1-t"), peer: "A", caller: tenantA)) == -32050)
        guard case .error(let notDone) = h.run(.clientTask(.result, clientID: "c1", taskID: "c1-t"), peer: "A", caller: tenantA) else {
            Issue.record("client_task_result of a queued task was answered")
            return
        }
        #expect(!notDone.message.contains("acme"))
        h.value(.report(nodeID: "n1", .init(taskID: "acme:c1-t", outcome: .success(42))), peer: "N")
        let late = h.replies().first?.1
        #expect((try? late?.outcome.get()) == [["task_id": "c1-t", "status": 7000, "result": 42]])
        let call = BrokerCommand.call(clientID: "c1", Submission(method: "work", params: [], taskID: "v"), wait: 0)
        #expect(h.run(call, peer: "A", caller: tenantA).resultValue?["task_id"] == "c1-v")
        guard case .error(let taken) = h.run(Self.submit("c1", [1], "t"), peer: "A", caller: tenantA) else {
            Issue.record("a taken task id was accepted again")
            return
        }
        #expect(taken.code == -32020 && taken.message == "task id \"c1-t\" is taken")
    }

    @Test func anAdminSeesEveryTenantsTasksByTheBrokersIDs() {
        var h = Harness()
        _ = h.run(.clientConnect(clientID: "c1"), peer: "A", caller: tenantA)
        _ = h.run(Self.submit("c1", [], "t"), peer: "A", caller: tenantA)
        _ = h.run(.clientConnect(clientID: "ops"), peer: "O", caller: admin)
        #expect(h.run(.clientTask(.status, clientID: "ops", taskID: "acme:c1-t"), peer: "O", caller: admin)
            == .reply(.status(.queued)))
        #expect(h.run(.waitResults(clientID: "ops", taskIDs: ["acme:c1-t"], wait: 30), peer: "O", caller: admin) == .deferred)
        #expect(h.run(.clientTask(.cancel, clientID: "ops", taskID: "acme:c1-t"), peer: "O", caller: admin) == .reply(.flag(true)))
        let answered = h.replies().first?.1
        #expect((try? answered?.outcome.get())?.arrayValue?.first?["task_id"] == "acme:c1-t")
    }

    @Test func tenantsIDsSurviveARestartWithTheirTenant() {
        var h = BrokerStateJournalTests.journaling()
        var kept = Kept()
        _ = h.run(.clientConnect(clientID: "c1"), peer: "A", caller: tenantA)
        _ = h.run(Self.submit("c1", [], "t"), peer: "A", caller: tenantA)
        kept.apply(h.state.takeChanges())
        #expect(kept.tasks.keys.sorted() == ["acme:c1-t"] && kept.clients.keys.sorted() == ["acme:c1"])
        var r = BrokerStateJournalTests.restarted(kept)
        #expect(r.run(.clientTask(.status, clientID: "c1", taskID: "c1-t"), peer: "A2", caller: tenantA) == .reply(.status(.queued)))
        #expect(Self.code(r.run(.clientConnect(clientID: "c1"), peer: "B", caller: tenantB)) == nil)
        #expect(Self.code(r.run(.clientTask(.status, clientID: "c1", taskID: "c1-t"), peer: "B", caller: tenantB)) == -32020)
    }
}

extension BrokerAnswer {
    /// The JSON result of an answered request, as a peer reads it (nil for an error or a parked one).
    var resultValue: JSONValue? { if case .reply(let r) = self { r.json } else { nil } }
}
