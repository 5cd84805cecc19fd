import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

@testable import ZeroTaskBroker

/// A broker driven by its owner's poll loop (`EmbeddedBroker`, as inside a node), with a local
/// peer served by call and a remote client on a real DEALER socket.
@Suite(.timeLimit(.minutes(10))) struct EmbeddedBrokerTests {
    /// Polls and steps the broker on this thread until `condition` holds or `seconds` pass.
    struct Pump {
        let broker: EmbeddedBroker
        var poller = ZMQPoller()

        init(_ broker: EmbeddedBroker) {
            self.broker = broker
            broker.addPollItems(to: &poller)
        }

        mutating func run(seconds: Double, until condition: () -> Bool) -> Bool {
            let deadline = MonotonicInstant.now() + seconds
            while MonotonicInstant.now() < deadline {
                guard let ready = try? poller.poll(timeoutMilliseconds: 10) else { return false }
                broker.step(ready[...])
                if condition() { return true }
            }
            return false
        }
    }

    static func request(_ method: String, _ params: JSONValue, id: Int64) -> Request {
        Request(method: "zerotask.broker." + method, params: Params(json: params)!, id: .int(id))
    }

    /// With a durable store, no peer hears of a change before it is written — the local peer
    /// (the node of a built-in broker) included: a task must not start before its submission is
    /// on disk, since a plugin may act on the world.
    @Test func localAndRemotePeersAreAnsweredOnlyAfterTheCommit() throws {
        let store = StoreWriterTests.GatedStore()
        let context = ZMQContext()
        let service = BrokerService(request: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*", store: store, context: context)
        let broker = try service.startEmbedded()
        var pump = Pump(broker)
        var local: [Response] = []
        func takeLocal() { local += broker.takeLocalMessages().replies }

        broker.handleLocal(.connect(NodeAdvertisement(nodeID: "here", methods: ["work"], workers: 1, capacity: 1)), id: 1)
        #expect(pump.run(seconds: 10) { takeLocal(); return local.contains { $0.id == 1 } })

        let client = try ZMQSocket(context, .dealer)
        try client.setLinger(milliseconds: 0)
        try client.connect(service.boundRequestEndpoint)
        var heard: [JSONValue] = []
        func receive() {
            while let frames = try? client.receiveFrames(dontWait: true), let body = frames.last {
                if let v = try? JSONValue.parse(body) { heard.append(v["id"] ?? .null) }
            }
        }
        // The client's connect is held at the store's gate: the client hears nothing yet.
        try client.send(Self.request("client_connect", ["alice"], id: 10).json.jsonBytes)
        #expect(pump.run(seconds: 10) { store.entered.wait(timeout: .now()) == .success })
        _ = pump.run(seconds: 0.3) { receive(); return false }
        #expect(heard.isEmpty)
        store.release.signal()
        #expect(pump.run(seconds: 10) { receive(); return heard == [10] })
        // The submission is held too, and the gate entered again proves the broker has the task
        // (two messages sent back to back may reach the broker in two steps, so waiting for the
        // first write alone left the pull below racing the submission).
        try client.send(Self.request("client_new_task", ["alice", "work", [1, 2]], id: 11).json.jsonBytes)
        #expect(pump.run(seconds: 10) { store.entered.wait(timeout: .now()) == .success })
        // ...and neither does the local node that pulls the task.
        broker.handleLocal(.pull(nodeID: "here", max: 1, wait: 0, done: []), id: 2)
        _ = pump.run(seconds: 0.3) { receive(); takeLocal(); return false }
        #expect(heard == [10])
        #expect(!local.contains { $0.id == 2 })

        // Once written, everyone's answers go out.
        for _ in 0..<100 { store.release.signal() }
        #expect(pump.run(seconds: 10) { receive(); takeLocal(); return heard.count == 2 && local.contains { $0.id == 2 } })
        #expect(heard == [10, 11])
        let pulled = local.first { $0.id == 2 }.flatMap { try? $0.outcome.get().arrayValue }
        #expect(pulled?.count == 1)
        #expect(pulled?.first?["method"] == "work")
        broker.finish()
        client.close(lingerMilliseconds: 0)
    }
}
