import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `zerotask broker` as an operator stops it: SIGTERM or SIGINT is a graceful shutdown (run by
/// swift-service-lifecycle's `ServiceGroup`) that stores what the broker holds, logs the stop and
/// exits 0. A real broker process with a real SQLite file.
@Suite struct BrokerShutdownTests {
    static func start(store: String) throws -> (ChildProcess, TestPeer, ZMQContext) {
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "sqlite:" + store, "--store-sync", "normal",
            "--request", request, "--publish", publish, "--log-level", "notice"])
        let context = ZMQContext()
        return (broker, try TestPeer(endpoint: request, context: context, .req), context)
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalStoresWhatTheBrokerHoldsAndExitsZero(_ sig: Int32) throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("zt-shutdown-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
        do {
            let (broker, peer, _) = try Self.start(store: store)
            defer { broker.stop() }
            #expect(try peer.result("client_connect", ["ops"]) == "ops")
            for i in 0..<3 { try peer.result("client_new_task", ["ops", "m", [.int(Int64(i))], .string("t\(i)")]) }
            broker.signal(sig)
            let status = broker.waitForExit(seconds: 30)
            #expect(status == 0 && broker.process.terminationReason == .exit, "status \(String(describing: status)): \(broker.output)")
            #expect(broker.output.contains("broker stopping"), "\(broker.output)")
            #expect(broker.output.contains("broker stopped: 3 tasks (3 queued)"), "\(broker.output)")
        }
        // The store is intact: a new broker on it hands the three queued tasks to a node.
        let (again, peer, _) = try Self.start(store: store)
        defer { again.stop() }
        #expect(try peer.result("node_connect", ["node_id": "n1", "methods": ["m"], "workers": 4]) == "n1")
        let pulled = try peer.result("node_task_pull", ["n1", 5]).arrayValue ?? []
        #expect(pulled.count == 3, "\(pulled)")
        again.signal(SIGTERM)
        #expect(again.waitForExit(seconds: 30) == 0, "\(again.output)")
    }
}
