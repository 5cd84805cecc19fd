import Foundation
import Testing
import ZeroTaskClient
import ZeroTaskTestSupport

/// The README's Swift program (`Examples/ClientExample`, built as `zerotask-example-client`),
/// run against a real node serving the example plugins, with the broker named only by
/// `ZEROTASK_BROKER` as a user would.
@Suite struct ClientExampleTests {
    @Test func theExampleProgramRunsAgainstARealNode() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker, waitingFor: "stats.summary")
        defer { node.stop() }
        let example = URL(fileURLWithPath: try Binaries.locateZerotask()).deletingLastPathComponent()
            .appendingPathComponent("zerotask-example-client").path
        let process = try ChildProcess(example, [], environment: ["ZEROTASK_BROKER": broker.request])
        defer { process.stop() }
        #expect(process.waitForExit(seconds: 60) == 0, "output:\n\(process.output)")
        let lines = process.output.split(separator: "\n").map(String.init)
        #expect(lines.contains("math.add(2, 3) = 5"))
        #expect(lines.contains("math.add(40, 2) = 42"))
        #expect(lines.contains("math.add(a: 7, b: 8) = 15"))
        #expect(lines.contains("text.upper(hello) = HELLO"))
        #expect(lines.contains("stats.summary: count 3, mean 2.5, max 4.5"))
        #expect(lines.contains { $0.hasPrefix("text.reverse(stressed) = desserts (task ") })
        #expect(lines.contains("failed: math.div: division by zero (code -32602)"), "output:\n\(process.output)")
    }

    @Test func theClientReadsZEROTASK_BROKERLikeTheCommandLine() {
        #expect(ZeroTaskClient.environmentBroker(["ZEROTASK_BROKER": "tcp://10.0.0.7:6000"]) == "tcp://10.0.0.7:6000")
        #expect(ZeroTaskClient.environmentBroker(["ZEROTASK_BROKER": ""]) == "tcp://127.0.0.1:5555")
        #expect(ZeroTaskClient.environmentBroker([:]) == ZeroTaskClient.defaultBroker)
    }

    @Test func anUnreachableEnvironmentBrokerIsTheOneReported() async throws {
        let endpoint = try unusedEndpoint()
        // The variable is read by the initializer; a child process keeps it from leaking into
        // tests running beside this one.
        let example = URL(fileURLWithPath: try Binaries.locateZerotask()).deletingLastPathComponent()
            .appendingPathComponent("zerotask-example-client").path
        let process = try ChildProcess(example, [], environment: ["ZEROTASK_BROKER": endpoint])
        defer { process.stop() }
        #expect(process.waitForExit(seconds: 60) != 0)
        #expect(process.output.contains(endpoint), "output:\n\(process.output)")
    }
}
