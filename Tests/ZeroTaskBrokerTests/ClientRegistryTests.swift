import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The client registry's own rules, with no JSON and no broker: a live connection holds its
/// client id; a disconnected, silent or restored one may be taken over.
@Suite struct ClientRegistryTests {
    static let a = Connection(peer: Array("A".utf8), key: nil)
    static let b = Connection(peer: Array("B".utf8), key: nil)

    static func code(_ body: () throws(BrokerError) -> Void) -> Int64? { BrokerError.code(of: body) }

    @Test func aLiveConnectionHoldsItsClientID() throws {
        var clients = ClientRegistry(timeout: 30)
        #expect(try clients.connect("alice", connection: Self.a, now: 0) == true)
        #expect(Self.code { () throws(BrokerError) in _ = try clients.connect("alice", connection: Self.b, now: 10) } == -32010)
        #expect(Self.code { () throws(BrokerError) in try clients.touch("alice", connection: Self.b, now: 10) } == -32010)
        #expect(clients["alice"]?.connection == Self.a && clients["alice"]?.lastSeen == 0)
        // Silent for client_timeout: another connection may carry on with it.
        #expect(Self.code { () throws(BrokerError) in try clients.touch("alice", connection: Self.b, now: 31) } == nil)
        #expect(clients["alice"]?.connection == Self.b)
    }

    @Test func aDisconnectedClientIsRefusedUntilItConnectsAgain() throws {
        var clients = ClientRegistry(timeout: 30)
        _ = try clients.connect("alice", connection: Self.a, now: 0)
        try clients.disconnect("alice", connection: Self.a, now: 1)
        #expect(Self.code { () throws(BrokerError) in try clients.touch("alice", connection: Self.a, now: 2) } == -32010)
        #expect(try clients.connect("alice", connection: Self.b, now: 3) == true, "connecting again is a change to store")
        #expect(clients.connectedCount == 1)
    }

    @Test func aClientRestoredFromTheStoreIsHeldByNobody() throws {
        var clients = ClientRegistry(timeout: 30)
        clients.restore(StoredClient(id: "alice", connected: true), now: 0)
        #expect(Self.code { () throws(BrokerError) in try clients.touch("alice", connection: Self.b, now: 1) } == nil)
        #expect(clients.stored("alice") == StoredClient(id: "alice", connected: true))
    }

    @Test func idleClientsAreForgottenUnlessTheyHavePendingTasks() throws {
        var clients = ClientRegistry(timeout: 30)
        _ = try clients.connect("alice", connection: Self.a, now: 0)
        _ = try clients.connect("bob", connection: Self.b, now: 0)
        clients.countPending("alice", by: 1)
        #expect(clients.removeIdle(now: 100, ttl: 60) == ["bob"])
        #expect(clients["alice"] != nil && clients["bob"] == nil && clients.stored("bob") == nil)
        clients.countPending("alice", by: -1)
        #expect(clients.removeIdle(now: 100, ttl: 60) == ["alice"] && clients.isEmpty)
    }

    @Test func anInvalidOrUnknownIDNamesTheClient() {
        var clients = ClientRegistry(timeout: 30)
        #expect(throws: BrokerError.client(id: "bad id!", why: "not a valid id")) {
            try clients.touch("bad id!", connection: Self.a, now: 0)
        }
        #expect(throws: BrokerError.client(id: "nobody", why: "unknown (call client_connect first)")) {
            try clients.touch("nobody", connection: Self.a, now: 0)
        }
    }
}
