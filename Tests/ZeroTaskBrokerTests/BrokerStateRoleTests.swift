import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Roles from CURVE keys: a node key calls node methods only, a client key client methods and
/// discovery only, an admin key everything; anything else is -32040 naming role and method.
@Suite struct BrokerStateRoleTests {
    typealias Harness = BrokerStateTests.Harness
    let node = PeerIdentity(role: .node, name: "n1")
    let client = PeerIdentity(role: .client, name: "tenant-a")
    let admin = PeerIdentity(role: .admin, name: "ops")

    func refusal(_ answer: BrokerAnswer) -> RPCError? {
        if case .error(let e) = answer, e.code == ErrorCode.notAllowed.rawValue { return e }
        return nil
    }

    @Test func aClientKeyMayNotActAsANode() {
        var h = Harness()
        let e = refusal(h.call("node_connect", ["rogue"], peer: "c", caller: client))
        #expect(e?.message == "client 'tenant-a' may not call zerotask.broker.node_connect: the client role calls client methods and discovery (methods, nodes, stats) only")
        #expect(refusal(h.call("node_task_finished", ["c-1", 5], peer: "c", caller: client)) != nil)
        #expect(refusal(h.call("task_status", ["n", "c-1", 5000], peer: "c", caller: client)) != nil)
        // Refused before anything changed: no node was registered.
        #expect(h.state.nodes.isEmpty)
        #expect(refusal(h.call("client_connect", ["c"], peer: "c", caller: client)) == nil)
        #expect(refusal(h.call("methods", peer: "c", caller: client)) == nil)
        #expect(refusal(h.call("stats", peer: "c", caller: client)) == nil)
    }

    @Test func aNodeKeyMayNotSubmitOrRead() {
        var h = Harness()
        let e = refusal(h.call("client_connect", ["c"], peer: "n", caller: node))
        #expect(e?.message.contains("node 'n1' may not call zerotask.broker.client_connect") == true)
        #expect(refusal(h.call("client_new_task", ["c", "m", []], peer: "n", caller: node)) != nil)
        #expect(refusal(h.call("methods", peer: "n", caller: node)) != nil)
        #expect(h.state.clients.isEmpty)
        #expect(refusal(h.call("node_connect", ["n1"], peer: "n", caller: node)) == nil)
        #expect(h.state.nodes["n1"] != nil)
    }

    @Test func aMadeUpMethodIsNotFoundForEveryRole() {
        var h = Harness()
        for caller in [client, node, admin] {
            guard case .error(let e) = h.call("client_no_such", peer: "p", caller: caller) else {
                Issue.record("\(String(describing: caller)) got an answer to a made-up method")
                continue
            }
            #expect(e.code == ErrorCode.methodNotFound.rawValue, "\(caller): \(e)")
        }
        // Made-up names never grow the per-method counts.
        #expect(h.state.counters.byMethod.isEmpty)
    }

    @Test func anAdminKeyAndNoKeyMayCallEverything() {
        var h = Harness()
        for (i, caller) in ([admin, nil] as [PeerIdentity?]).enumerated() {
            #expect(refusal(h.call("node_connect", [.string("n\(i)")], peer: "p\(i)", caller: caller)) == nil)
            #expect(refusal(h.call("client_connect", peer: "q\(i)", caller: caller)) == nil)
            #expect(refusal(h.call("stats", peer: "q\(i)", caller: caller)) == nil)
        }
        #expect(h.state.nodes.count == 2 && h.state.clients.count == 2)
    }
}
