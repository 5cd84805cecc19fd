import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// What `zerotask broker` tells the operator: nodes joining and lost (with how many tasks went
/// back to the queue), its own stop, at the level `--log-level` asks for. A real broker process.
@Suite struct BrokerLogTests {
    static func startBroker(_ extra: [String]) throws -> (ChildProcess, TestPeer, ZMQContext) {
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--request", request, "--publish", publish] + extra)
        let context = ZMQContext()
        let peer = try TestPeer(endpoint: request, context: context, .req)
        return (broker, peer, context)
    }

    @Test func nodesJoiningAndLostAndTheStopAreLogged() throws {
        let (broker, peer, _) = try Self.startBroker(["--log-level", "info", "--node-timeout", "1"])
        defer { broker.stop() }
        #expect(try peer.result("client_connect", ["ops"]) == "ops")
        #expect(try peer.result("node_connect", ["node_id": "n1", "methods": ["m"], "workers": 4]) == "n1")
        for i in 0..<3 { try peer.result("client_new_task", ["ops", "m", [], .string("t\(i)")]) }
        #expect(try peer.result("node_task_pull", ["n1", 2]).arrayValue?.count == 2)
        // Silent past node_timeout: lost, its two tasks queued again.
        #expect(eventually(20) { broker.output.contains("node n1 lost") })
        let out = broker.output
        #expect(out.contains("node n1 joined: 1 methods, 4 workers"), "\(out)")
        #expect(out.contains("2 tasks went back to the queue"), "\(out)")
        // Each requeued task is named, with its method and the cause.
        #expect(out.contains("task ops-t0 (m) queued again: node n1 silent for") && out.contains("task ops-t1 (m) queued again"), "\(out)")
        broker.signal(SIGTERM)
        #expect(broker.waitForExit(seconds: 20) == 0)
        #expect(broker.output.contains("broker stopping") && broker.output.contains("broker stopped"), "\(broker.output)")
    }

    @Test func aHigherLogLevelHidesNoticesAndABadOneIsNamed() throws {
        let (quiet, peer, _) = try Self.startBroker(["--log-level", "error"])
        defer { quiet.stop() }
        #expect(try peer.result("node_connect", ["node_id": "n1", "methods": ["m"]]) == "n1")
        #expect(try peer.result("node_disconnect", ["n1"]) == true)
        #expect(try peer.result("stats")["nodes"] == 0)
        #expect(!quiet.output.contains("node n1"), "\(quiet.output)")

        let bad = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--log-level", "loud",
            "--request", try unusedEndpoint(), "--publish", try unusedEndpoint()])
        defer { bad.stop() }
        let status = bad.waitForExit(seconds: 20)
        #expect(status != nil && status != 0)
        #expect(bad.output.contains("broker.log_level") && bad.output.contains("loud"), "\(bad.output)")
    }
}
