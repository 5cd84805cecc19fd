import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Nodes written from the seed spec alone: registered without a methods list, told of work by
/// the prototype's `task_ready`, never heartbeating. The broker's rules for them, with no
/// sockets and a clock the test moves (the Python peers in PythonPeerTests run them for real).
@Suite struct SeedNodeTests {
    typealias Harness = BrokerStateTests.Harness

    /// Client "alice" on peer "C"; a seed node on peer "S" (`node_connect()`, no params);
    /// returns the node id the broker gave it.
    static func seedSetUp(_ h: inout Harness, params: JSONValue = []) -> String {
        h.result("client_connect", ["alice"], peer: "C")
        let id = h.result("node_connect", params, peer: "S").stringValue ?? "?"
        _ = h.state.takeOutputs()
        return id
    }

    @Test func aNodeThatAdvertisedNothingClaimsAnyMethodOneAtATime() {
        var h = Harness()
        let seed = Self.seedSetUp(&h)
        h.submit("a", method: "add")
        h.submit("b", method: "mul")
        #expect(h.result("node_task_request", ["alice-a"], peer: "S") == ["method": "add", "params": [], "id": "alice-a"])
        // One worker when it declared none: the next claim waits for the first to finish.
        #expect(h.result("node_task_request", ["alice-b"], peer: "S") == .object([:]))
        #expect(h.status("alice-b") == .int(TaskStatus.queued.rawValue))
        #expect(h.result("node_task_finished", ["alice-a", 5], peer: "S") == true)
        // The original form, naming the node, works the same.
        #expect(h.result("node_task_request", [.string(seed), "alice-b"], peer: "S")["id"] == "alice-b")
        #expect(h.result("node_task_failed", ["alice-b", ["code": 7, "message": "no"]], peer: "S") == true)
        #expect(h.result("client_task_result", ["alice", "alice-a"], peer: "C") == 5)
        #expect(h.error("client_task_result", ["alice", "alice-b"], peer: "C")?.code == 7)
    }

    @Test func aSeedNodeDeclaringWorkersClaimsThatMany() {
        var h = Harness()
        _ = Self.seedSetUp(&h, params: ["node_id": "s", "workers": 2])
        for name in ["a", "b", "c"] { h.submit(name, method: "any.thing") }
        #expect(h.result("node_task_request", ["alice-a"], peer: "S")["id"] == "alice-a")
        #expect(h.result("node_task_request", ["s", "alice-b"], peer: "S")["id"] == "alice-b")
        #expect(h.result("node_task_request", ["alice-c"], peer: "S") == .object([:]))
    }

    @Test func aNodeThatAdvertisedGetsOnlyItsMethods() {
        var h = Harness()
        h.setUp(methods: ["work"])
        h.submit("a", method: "add")
        #expect(h.result("node_task_request", ["alice-a"], peer: "N") == .object([:]))
        // An empty list is an advertisement too: of nothing.
        h.result("node_connect", ["node_id": "e", "methods": []], peer: "E")
        #expect(h.result("node_task_request", ["alice-a"], peer: "E") == .object([:]))
        // A seed node that advertises later is held to what it advertised.
        _ = h.result("node_connect", ["s"], peer: "S")
        #expect(h.result("node_advertise", ["s", ["mul"]], peer: "S") == true)
        #expect(h.result("node_task_request", ["alice-a"], peer: "S") == .object([:]))
        #expect(h.status("alice-a") == .int(TaskStatus.queued.rawValue))
    }

    @Test func methodsAndNodesShowASeedNodeAsServingAny() {
        var h = Harness()
        let seed = Self.seedSetUp(&h)
        h.setUp(methods: ["work"])
        let methods = h.result("methods", peer: "C").arrayValue ?? []
        let any = methods.first { $0["name"] == "*" }
        #expect(any?["serves_any"] == true)
        #expect(any?["nodes"] == [.string(seed)])
        #expect(any?["silent_nodes"] == [])
        #expect(methods.first { $0["name"] == "work" }?["nodes"] == ["n1"])
        let nodes = h.result("nodes", peer: "C").arrayValue ?? []
        #expect(nodes.first { $0["node_id"] == .string(seed) }?["serves_any"] == true)
        #expect(nodes.first { $0["node_id"] == "n1" }?["serves_any"] == nil)
        // With no seed node there is no "*" entry.
        _ = h.result("node_disconnect", [], peer: "S")
        #expect(h.result("methods", peer: "C").arrayValue?.contains { $0["name"] == "*" } == false)
    }

    @Test func taskReadyIsPublishedOnlyWhenSomebodyWantsIt() {
        var h = Harness()
        _ = Self.seedSetUp(&h)
        h.state.interest = NotificationInterest(subscriptions: [Array(#"{"method":"zerotask.node.task_ready""#.utf8)])
        h.submit("a", method: "add")
        #expect(h.published() == [#"{"method":"zerotask.node.task_ready","params":{"method":"add","task_id":"alice-a"},"jsonrpc":"2.0"}"#])
        // A subscription to everything covers both names.
        h.state.interest = NotificationInterest(subscriptions: [[]])
        h.submit("b", method: "add")
        #expect(h.published() == [
            #"{"method":"zerotask.node.broker_new_task","params":{"method":"add","task_id":"alice-b"},"jsonrpc":"2.0"}"#,
            #"{"method":"zerotask.node.task_ready","params":{"method":"add","task_id":"alice-b"},"jsonrpc":"2.0"}"#,
        ])
        // ZeroTask's own per-method subscriptions: no task_ready built at all.
        h.state.interest = NotificationInterest(subscriptions: [Array(Notifications.newTaskPrefix(method: "add").utf8)])
        h.submit("c", method: "add")
        #expect(h.published().allSatisfy { $0.contains("broker_new_task") })
    }

    @Test func aNodeDroppedForSilenceComesBackOnItsNextRequest() {
        var h = Harness { $0.nodeTimeout = 10 }
        let seed = Self.seedSetUp(&h)
        h.now = 30
        h.state.tick(now: h.now)
        #expect(h.result("nodes", peer: "C").arrayValue == [])
        // Presumed dead, but a client may still count on it.
        let any = h.result("methods", peer: "C").arrayValue?.first { $0["name"] == "*" }
        #expect(any?["nodes"] == [])
        #expect(any?["silent_nodes"] == [.string(seed)])
        h.submit("a", method: "add")
        // Its next request, from its connection, registers it again: the claim succeeds.
        #expect(h.result("node_task_request", ["alice-a"], peer: "S")["id"] == "alice-a")
        #expect(h.result("nodes", peer: "C").arrayValue?.first?["serves_any"] == true)
        #expect(h.result("node_task_finished", ["alice-a", 1], peer: "S") == true)
        // Idle again, longer than node_timeout, and again back.
        h.now = 60
        h.state.tick(now: h.now)
        h.submit("b", method: "add")
        #expect(h.result("node_task_request", ["alice-b"], peer: "S")["id"] == "alice-b")
    }

    @Test func aNodeDroppedWhileBusyDeliversItsResultAndIsBack() {
        var h = Harness { $0.nodeTimeout = 10 }
        let seed = Self.seedSetUp(&h)
        h.submit("a", method: "add")
        #expect(h.result("node_task_request", ["alice-a"], peer: "S")["id"] == "alice-a")
        h.now = 11
        h.state.tick(now: h.now)
        // Its task went back to the queue (another node could take it) ...
        #expect(h.status("alice-a") == .int(TaskStatus.queued.rawValue))
        // ... and its late result, its first word since, is accepted: the first result stands.
        #expect(h.result("node_task_finished", ["alice-a", 3], peer: "S") == true)
        #expect(h.result("client_task_result", ["alice", "alice-a"], peer: "C") == 3)
        #expect(h.result("nodes", peer: "C").arrayValue?.first?["node_id"] == .string(seed))
    }

    @Test func onlyItsOwnConnectionBringsASilentNodeBack() {
        var h = Harness { $0.nodeTimeout = 10 }
        _ = Self.seedSetUp(&h, params: ["s"])
        h.now = 11
        h.state.tick(now: h.now)
        #expect(h.error("node_heartbeat", ["s"], peer: "X")?.code == ErrorCode.invalidNodeID.rawValue)
        #expect(h.error("node_heartbeat", [], peer: "X")?.code == ErrorCode.invalidNodeID.rawValue)
        // The id registered afresh elsewhere: the old connection no longer speaks for it.
        h.result("node_connect", ["node_id": "s", "methods": ["work"]], peer: "T")
        #expect(h.error("node_task_request", ["alice-x"], peer: "S")?.code == ErrorCode.invalidNodeID.rawValue)
        #expect(h.result("nodes", peer: "C").arrayValue?.first?["serves_any"] == nil)
    }

    @Test func aNodeThatSaidGoodbyeIsNotBroughtBack() {
        var h = Harness()
        _ = Self.seedSetUp(&h, params: ["s"])
        #expect(h.result("node_disconnect", ["s"], peer: "S") == true)
        #expect(h.error("node_heartbeat", ["s"], peer: "S")?.code == ErrorCode.invalidNodeID.rawValue)
    }
}
