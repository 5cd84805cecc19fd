import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The broker tells the operator (a warning event, logged by its loop) when a node reports a
/// quarantined plugin: once per plugin, naming the file and the cause.
@Suite struct BrokerQuarantineEventTests {
    static let math: JSONValue = [
        "name": "math.add", "plugin": "math", "file": "Plugins/math.so", "reason": "crashed while loading (signal SIGBUS)",
    ]

    @Test func aQuarantinedPluginIsReportedOnceWithFileAndCause() {
        var h = BrokerStateTests.Harness()
        let unavailable: [String: JSONValue] = ["math.add": Self.math]
        h.value(.nodeConnect(nodeID: "n1", methods: ["text.upper"], workers: nil, capacity: nil, unavailable: unavailable), peer: "n")
        let events = h.state.takeEvents().filter { if case .pluginsQuarantined = $0 { true } else { false } }
        #expect(events == [.pluginsQuarantined(nodeID: "n1", reasons: ["Plugins/math.so: crashed while loading (signal SIGBUS)"])])
        #expect(events.first?.isTrouble == true)
        #expect(events.first?.description == "node n1 quarantined a plugin: Plugins/math.so: crashed while loading (signal SIGBUS)")
        // Advertising the same again is no news.
        let methods: [String: JSONValue] = ["text.upper": ["name": "text.upper"]]
        h.value(.advertise(nodeID: "n1", methods: methods, workers: nil, capacity: nil, unavailable: unavailable), peer: "n")
        #expect(!h.state.takeEvents().contains { if case .pluginsQuarantined = $0 { true } else { false } })
    }
}

/// Which node departures are warnings: lost work or silence, not a clean goodbye.
@Suite struct BrokerNodeLostEventTests {
    @Test func aCleanDisconnectIsANoticeAndLostWorkAWarning() {
        #expect(!BrokerEvent.nodeLost(nodeID: "n", reason: "disconnected", requeued: 0, failed: 0).isTrouble)
        #expect(BrokerEvent.nodeLost(nodeID: "n", reason: "disconnected", requeued: 2, failed: 0).isTrouble)
        #expect(BrokerEvent.nodeLost(nodeID: "n", reason: "silent for 10 s", requeued: 0, failed: 0).isTrouble)
    }
}
