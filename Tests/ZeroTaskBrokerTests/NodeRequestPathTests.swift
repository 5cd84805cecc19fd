import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// A node's request reaches the rules as one command by either path: over the wire (its params
/// encoded, then decoded by `BrokerCommand(_:_:)`) and from a built-in broker's node (its typed
/// fields mapped by `BrokerCommand(_: NodeRequest)`).
@Suite struct NodeRequestPathTests {
    static let outcomes = [
        NodeRequest.Outcome(taskID: "t1", outcome: .success(["sum": 3])),
        NodeRequest.Outcome(taskID: "t2", outcome: .success(.null)),
        NodeRequest.Outcome(taskID: "t3", outcome: .failure(RPCError(code: -32060, message: "timed out", data: ["timeout": 0.5]))),
        NodeRequest.Outcome(taskID: "t4", outcome: .failure(RPCError(code: -32061, message: "crashed"))),
    ]

    static let plain = NodeAdvertisement(nodeID: "n1", methods: ["m.a"], workers: 2, capacity: 2)
    /// Every field holding something, descriptions beside names, tags out of order and repeated.
    static let full = NodeAdvertisement(nodeID: "n2", methods: ["m.a", ["name": "m.b", "doc": "adds", "timeout": 5]],
        workers: 3, capacity: 192, unavailable: [["name": "q.x", "reason": "crashed", "plugin": "q", "file": "q.so"]],
        tags: ["gpu", "eu", "gpu"])

    /// Every case the node sends, with optional fields present and absent.
    static let requests: [NodeRequest] = [
        .connect(plain), .connect(full), .advertise(plain), .advertise(full),
        .heartbeat(nodeID: "n1"), .disconnect(nodeID: "n1"),
        .pull(nodeID: "n1", max: 7, wait: 10, done: []), .pull(nodeID: "n1", max: 1, wait: 0.25, done: outcomes),
        .pull(nodeID: "n1", max: 0, wait: 0, done: [outcomes[0]]),
        .tasksDone(nodeID: "n1", outcomes), .tasksDone(nodeID: "n1", []),
        .release(nodeID: "n1", taskIDs: ["t5", "t6"]), .release(nodeID: "n1", taskIDs: []),
        .checkTasks(nodeID: "n1", taskIDs: ["t1", "t2"], complete: true), .checkTasks(nodeID: "n1", taskIDs: ["t1"], complete: false),
        .taskStatus(nodeID: "n1", taskID: "t1", status: .running),
        .taskStatus(nodeID: "n1", taskID: "t1", status: .running, progress: 0.5),
        .taskStatus(nodeID: "n1", taskID: "t1", status: .running, progress: 0.75, message: "three quarters"),
        .taskStatus(nodeID: "n1", taskID: "t1", status: .running, message: "starting"),
        .nodeStatus(nodeID: "n1", processID: 42, status: ["workers": 2, "busy": 1, "finished": 10, "run_ms": ["p50": 1.5]]),
        .nodeStatus(nodeID: "n1", processID: 7, status: [:]),
    ]

    @Test func everyRequestIsOneCommandByWireAndByHand() throws {
        for request in Self.requests {
            let wire = try BrokerCommand(request.method, request.params)
            let direct = try BrokerCommand(request)
            #expect(wire == direct, "\(request)")
        }
    }

    @Test func theExamplesCoverEveryCase() {
        let methods: [BrokerMethod] = [.nodeConnect, .nodeAdvertise, .nodeHeartbeat, .nodeDisconnect, .nodeTaskPull, .nodeTasksDone,
                                       .nodeTaskRelease, .nodeCheckTasks, .taskStatus, .nodeStatus]
        #expect(Set(Self.requests.map(\.method)) == Set(methods))
    }

    /// The commands hold what the node said (not merely the same on both paths).
    @Test func theDirectPathKeepsEveryField() throws {
        #expect(try BrokerCommand(.pull(nodeID: "n1", max: 1, wait: 0.25, done: Self.outcomes))
            == .pull(nodeID: "n1", max: 1, wait: 0.25, done: Self.outcomes))
        #expect(try BrokerCommand(.connect(Self.full)) == .nodeConnect(nodeID: "n2", methods: Self.full.methods, workers: 3, capacity: 192,
            unavailable: ["q.x": Self.full.unavailable[0]], tags: ["eu", "gpu"]))
        #expect(try BrokerCommand(.advertise(Self.full)) == .advertise(nodeID: "n2",
            methods: ["m.a": ["name": "m.a"], "m.b": Self.full.methods[1]], workers: 3, capacity: 192,
            unavailable: ["q.x": Self.full.unavailable[0]], tags: ["eu", "gpu"]))
        #expect(try BrokerCommand(.taskStatus(nodeID: "n1", taskID: "t1", status: .running, progress: 0.75, message: "m"))
            == .taskStatus(nodeID: "n1", taskID: "t1", status: .running, fields: ["progress": 0.75, "message": "m"]))
        #expect(try BrokerCommand(.nodeStatus(nodeID: "n1", processID: 42, status: ["busy": 1]))
            == .nodeStatus(nodeID: "n1", fields: ["busy": 1, "pid": 42]))
        #expect(try BrokerCommand(.checkTasks(nodeID: "n1", taskIDs: ["t1"], complete: true)) == .checkTasks(nodeID: "n1", taskIDs: ["t1"], complete: true))
    }

    /// What the wire decoder refuses in an advertisement, the direct path refuses with the same words.
    @Test func aBadAdvertisementIsRefusedAlikeOnBothPaths() {
        let bad = [
            NodeAdvertisement(nodeID: "n1", methods: ["not a name"], workers: 1, capacity: 1),
            NodeAdvertisement(nodeID: "n1", methods: [["doc": "no name"]], workers: 1, capacity: 1),
            NodeAdvertisement(nodeID: "n1", methods: ["m.a"], workers: 1, capacity: 1, unavailable: [["name": "q.x"]]),
            NodeAdvertisement(nodeID: "n1", methods: ["m.a"], workers: 1, capacity: 1, tags: ["not a tag"]),
        ]
        for a in bad {
            for request in [NodeRequest.connect(a), .advertise(a)] {
                let wire = Result { () throws(RPCError) in try BrokerCommand(request.method, request.params) }
                let direct = Result { () throws(RPCError) in try BrokerCommand(request) }
                #expect(wire == direct, "\(request)")
                // node_connect keeps its method list as given: only node_advertise reads the names.
                if case .advertise = request { #expect(throws: RPCError.self) { try direct.get() } }
            }
        }
    }

    /// A node's whole session, once through `handle` as JSON-RPC and once through the built-in
    /// broker's `handle(_: NodeRequest, …)`: the same answers, the same tasks run, and the local
    /// requests counted as the wire's are (`requests_total`, `requests_by_method`).
    @Test func aSessionGetsTheSameAnswersAndCountsByEitherPath() throws {
        var wire = BrokerStateTests.Harness()
        var local = BrokerStateTests.Harness()
        var nextID: Int64 = 1
        /// Sends `request` by both paths; both answers must be the same.
        func send(_ request: NodeRequest, notify: Bool = false) -> BrokerAnswer {
            let id: JSONValue? = notify ? nil : .int(nextID)
            nextID += 1
            let route = BrokerStateTests.Harness.route("N", id: id ?? .null)
            let byWire = wire.state.handle(Request(method: request.method.wireName, params: request.params, id: id),
                route: route, now: wire.now, canDefer: !notify)
            let direct = local.state.handle(request, route: route, now: local.now, canDefer: !notify)
            #expect(byWire == direct, "\(request)")
            return direct
        }
        /// The ids of the tasks a pull's answer assigns.
        func assigned(_ answer: BrokerAnswer) -> [String] {
            guard case .reply(.assignments(let list)) = answer else { return [] }
            return list.map(\.id)
        }
        wire.result("client_connect", ["alice"], peer: "C")
        local.result("client_connect", ["alice"], peer: "C")
        var submitted: [String] = []
        for params: JSONValue in [["alice", "m.a", [1, 2]], ["alice", "m.a", [3, 4]]] {
            let id = wire.result("client_new_task", params, peer: "C")
            #expect(local.result("client_new_task", params, peer: "C") == id)
            submitted += id.stringValue.map { [$0] } ?? []
        }
        #expect(submitted.count == 2)

        #expect(send(.connect(NodeAdvertisement(nodeID: "n1", methods: ["m.a"], workers: 1, capacity: 2))) == .reply(.id("n1")))
        let first = assigned(send(.pull(nodeID: "n1", max: 2, wait: 0, done: [])))
        #expect(first.count == 2)
        let (a, b) = (try #require(first.first), try #require(first.last))
        #expect(send(.taskStatus(nodeID: "n1", taskID: a, status: .running, progress: 0.5, message: "half"), notify: true) != .deferred)
        #expect(send(.heartbeat(nodeID: "n1")) == .reply(.accepted))
        #expect(send(.checkTasks(nodeID: "n1", taskIDs: [a, b], complete: true)) == .reply(.gone([])))
        _ = send(.nodeStatus(nodeID: "n1", processID: 9, status: ["busy": 1]), notify: true)
        _ = send(.release(nodeID: "n1", taskIDs: [b]))
        #expect(assigned(send(.pull(nodeID: "n1", max: 1, wait: 0, done: [.init(taskID: a, outcome: .success(3))]))) == [b])
        _ = send(.tasksDone(nodeID: "n1", [.init(taskID: b, outcome: .failure(RPCError(code: 1, message: "bad input")))]))
        _ = send(.disconnect(nodeID: "n1"))

        #expect(local.state.counters.requests == wire.state.counters.requests)
        #expect(local.state.counters.byMethod == wire.state.counters.byMethod)
        #expect(local.state.counters.byMethod["node_task_pull"] == 2)
        #expect(local.state.counters.byMethod["task_status"] == 1)
        // The session did what it says on the direct path: one task finished, the other failed.
        let statuses = submitted.map { local.result("client_task_status", ["alice", .string($0)], peer: "C") }
        #expect(statuses == [.int(TaskStatus.finished.rawValue), .int(TaskStatus.failed.rawValue)])
    }
}
