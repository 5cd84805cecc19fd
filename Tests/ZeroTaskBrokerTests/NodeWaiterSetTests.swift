import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Parked pulls found by method: a submission goes to the oldest parked node serving its method,
/// a node's new methods count at once, and deadlines come from a heap. Injected clock.
@Suite struct NodeWaiterSetTests {
    typealias Harness = BrokerStateTests.Harness

    static func park(_ h: inout Harness, _ node: String, peer: String, wait: Double = 30) -> BrokerAnswer {
        h.run(.pull(nodeID: node, max: 5, wait: wait, done: []), peer: peer)
    }

    /// `node_advertise` of n1 serving `methods` (named only), as the decoder hands it over.
    static func advertise(_ methods: [String]) -> BrokerCommand {
        let described = Dictionary(uniqueKeysWithValues: methods.map { ($0, ["name": .string($0)] as JSONValue) })
        return .advertise(nodeID: "n1", methods: described, workers: nil, capacity: nil, unavailable: [:])
    }

    static func assigned(_ replies: [(ReplyRoute, Response)]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (route, r) in replies {
            out[String(decoding: route.peer, as: UTF8.self), default: []] += Harness.ids((try? r.outcome.get()) ?? [])
        }
        return out
    }

    @Test func aSubmissionGoesToTheOldestParkedNodeServingItsMethod() {
        var h = Harness()
        h.setUp(methods: ["work"])
        h.value(.nodeConnect(nodeID: "n2", methods: ["other"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        h.value(.nodeConnect(nodeID: "n3", methods: ["work", "other"], workers: nil, capacity: nil, unavailable: [:]), peer: "N3")
        for (n, p) in [("n2", "N2"), ("n1", "N"), ("n3", "N3")] { #expect(Self.park(&h, n, peer: p) == .deferred) }
        h.submit("o", method: "other")
        h.submit("w", method: "work")
        #expect(Self.assigned(h.replies()) == ["N2": ["alice-o"], "N": ["alice-w"]])
        h.submit("w2", method: "work")
        #expect(Self.assigned(h.replies()) == ["N3": ["alice-w2"]])
        // Nobody is parked any more: the next one waits in its queue.
        h.submit("w3", method: "work")
        #expect(h.replies().isEmpty && h.state.queuedTaskCount == 1)
    }

    @Test func methodsAdvertisedWhileParkedCountAtOnce() {
        var h = Harness()
        h.setUp(methods: ["work"])
        #expect(Self.park(&h, "n1", peer: "N") == .deferred)
        h.value(Self.advertise(["work", "fresh"]), peer: "N")
        h.submit("f", method: "fresh")
        #expect(Self.assigned(h.replies()) == ["N": ["alice-f"]])
        #expect(Self.park(&h, "n1", peer: "N") == .deferred)
        h.value(Self.advertise(["fresh"]), peer: "N")
        h.submit("w", method: "work")
        #expect(h.replies().isEmpty, "a method the node no longer serves must not reach it")
    }

    @Test func aNewPullReplacesTheParkedOneAndDeadlinesExpireInOrder() {
        var h = Harness()
        h.setUp(methods: ["work"])
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        #expect(Self.park(&h, "n1", peer: "N", wait: 10) == .deferred)
        #expect(Self.park(&h, "n1", peer: "N", wait: 20) == .deferred)
        let replaced = h.replies()
        #expect(replaced.count == 1 && (try? replaced[0].1.outcome.get()) == [])
        #expect(Self.park(&h, "n2", peer: "N2", wait: 5) == .deferred)
        #expect(h.state.nextDeadline == 5)
        h.now = 6
        h.value(.heartbeat(nodeID: "n1"), peer: "N")
        h.value(.heartbeat(nodeID: "n2"), peer: "N2")
        h.state.tick(now: h.now)
        #expect(Self.assigned(h.replies()) == ["N2": []])
        #expect(h.state.nextDeadline == 20 && h.state.nodeWaiters.count == 1)
    }
}
