import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The node registry's own rules, with no JSON and no broker: who speaks for a node id, what a
/// node dropped for silence keeps, and where its task slots go.
@Suite struct NodeRegistryTests {
    static let a = Connection(peer: Array("A".utf8), key: nil)
    static let b = Connection(peer: Array("B".utf8), key: nil)

    static func registry(with id: String = "n1", on connection: Connection = a) -> NodeRegistry {
        var nodes = NodeRegistry()
        _ = nodes.admit(id, on: connection, methods: ["work": ["name": "work"]], workers: 2, now: 0, connectedAt: 100,
            confirmWithin: 10)
        return nodes
    }

    static func code(_ body: () throws(BrokerError) -> Void) -> Int64? { BrokerError.code(of: body) }

    @Test func onlyTheRegisteringConnectionSpeaksForANode() {
        var nodes = Self.registry()
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("n1", connection: Self.b, now: 1, connectedAt: 101) } == -32030)
        #expect(nodes["n1"]?.lastSeen == 0, "a refused touch changes nothing")
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("n1", connection: Self.a, now: 2, connectedAt: 102) } == nil)
        #expect(nodes["n1"]?.lastSeen == 2)
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("ghost", connection: Self.a, now: 2, connectedAt: 102) } == -32030)
    }

    @Test func theSeedFormFindsTheNodeOfItsConnection() throws {
        let nodes = Self.registry()
        #expect(try nodes.nodeID(forPeer: Self.a.peer) == "n1")
        #expect(throws: BrokerError.noNodeOnConnection) { try nodes.nodeID(forPeer: Self.b.peer) }
        #expect(nodes.replaced(by: "n2", on: Self.a) == "n1")
        #expect(nodes.replaced(by: "n1", on: Self.a) == nil && nodes.replaced(by: "n2", on: Self.b) == nil)
    }

    @Test func aNodeDroppedForSilenceComesBackEmptyOnItsOwnConnectionOnly() {
        var nodes = Self.registry()
        nodes.assign("t1", to: "n1")
        let dropped = nodes.remove("n1", keepingSilent: true)
        #expect(dropped?.assigned == ["t1"] && nodes["n1"] == nil)
        #expect(nodes.silent.map(\.id) == ["n1"])
        // Another connection may not bring it back; its own does, without the tasks it lost.
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("n1", connection: Self.b, now: 5, connectedAt: 105) } == -32030)
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("n1", connection: Self.a, now: 6, connectedAt: 106) } == nil)
        #expect(nodes["n1"]?.assigned == [] && nodes["n1"]?.methods.keys.sorted() == ["work"] && nodes["n1"]?.connectedAt == 106)
        #expect(nodes.silent.isEmpty)
    }

    @Test func aNodeThatLeftByItsOwnWordIsNotKeptForReadmission() {
        var nodes = Self.registry()
        _ = nodes.remove("n1", keepingSilent: false)
        #expect(nodes.silent.isEmpty && nodes.isEmpty)
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("n1", connection: Self.a, now: 1, connectedAt: 101) } == -32030)
    }

    @Test func silentNodesAreForgottenAfterTheirTTL() {
        var nodes = Self.registry()
        _ = nodes.remove("n1", keepingSilent: true)
        nodes.forgetSilent(olderThan: 60, now: 50)
        #expect(nodes.silent.count == 1)
        nodes.forgetSilent(olderThan: 60, now: 61)
        #expect(nodes.silent.isEmpty)
    }

    @Test func aNodeRestoredFromTheStoreAwaitsReconnectionAndMustConfirmItsTasks() {
        var nodes = NodeRegistry()
        nodes.restoreAssignment("t1", to: "n1", now: 0, connectedAt: 100)
        nodes.restoreAssignment("t2", to: "n1", now: 0, connectedAt: 100)
        #expect(nodes["n1"]?.awaitingReconnect == true && nodes["n1"]?.unconfirmed == ["t1", "t2"])
        #expect(Self.code { () throws(BrokerError) in try nodes.touch("n1", connection: .none, now: 1, connectedAt: 101) } == -32030)
        let record = nodes.admit("n1", on: Self.a, methods: nil, workers: nil, now: 3, connectedAt: 103, confirmWithin: 10)
        #expect(record.awaitingReconnect == false && record.servesAny && record.confirmBy == 13)
        nodes.unassign("t1", from: "n1")
        #expect(nodes.takeUnconfirmed("n1") == ["t2"])
        #expect(nodes["n1"]?.assigned == [] && nodes["n1"]?.unconfirmed == [])
    }

    @Test func aTaskMissingFromTwoCompleteListsInARowIsTakenBack() {
        var record = Self.registry()["n1"]!
        record.assigned = ["t1", "t2"]
        #expect(record.takeUnlisted(["t2"]) == [], "missing once: it may still be on its way")
        #expect(record.takeUnlisted(["t2"]) == ["t1"])
        #expect(record.assigned == ["t2"] && record.missing == [])
    }

    @Test func registeringAgainAsksTheNodeToConfirmWhatItHolds() {
        var record = Self.registry()["n1"]!
        record.assigned = ["t1"]
        record.registerAgain(methods: nil, workers: 4, now: 20, confirmWithin: 10)
        #expect(record.unconfirmed == ["t1"] && record.confirmBy == 30 && record.workers == 4)
        #expect(record.methods.keys.sorted() == ["work"], "no methods list: the ones it had stay")
    }
}
