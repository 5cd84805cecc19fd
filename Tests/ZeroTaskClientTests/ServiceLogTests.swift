import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// What `zerotask broker` and `zerotask node` log, as JSON lines with `--log-format json`: the
/// broker's task failures (method and error) and nodes joining; the node's every task at debug
/// (method, id, duration, outcome). Real processes, a real plugin, the CLI as the client.
@Suite struct ServiceLogTests {
    /// Every line of `output` as a JSON object; a line that is not one fails the test.
    static func jsonLines(_ output: String, sourceLocation: SourceLocation = #_sourceLocation) -> [JSONValue] {
        output.split(separator: "\n").compactMap { line in
            guard let v = try? JSONValue.parse(String(line)), v.objectValue != nil else {
                Issue.record("not a JSON object: \(line)", sourceLocation: sourceLocation)
                return nil
            }
            return v
        }
    }

    @Test func brokerAndNodeLogJSONLinesWithTaskFailuresAndEachTask() async throws {
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let broker = try ChildProcess(Binaries.zerotask, [
            "broker", "--store", "memory", "--request", request, "--publish", publish, "--http", "off", "--log-format", "json",
        ])
        defer { broker.stop() }
        let node = try RealNode(request: request, publish: publish, waitingFor: "math.div",
            extra: ["--log-level", "debug", "--log-format", "json", "--node-id", "logged-node"])
        defer { node.stop() }
        let cli = try CLIRunner()
        let failed = try await cli.run(["call", "--broker", request, "math.div", "1", "0"])
        #expect(failed.status == 65, "stderr: \(failed.stderr)")
        let ok = try await cli.run(["call", "--broker", request, "math.add", "2", "3"])
        #expect(ok.stdout == "5\n", "stderr: \(ok.stderr)")

        // The broker: one JSON object per line; the failure names method, task and error.
        #expect(eventually(20) { broker.output.contains("task_failed") }, "\(broker.output)")
        let brokerLines = Self.jsonLines(broker.output)
        #expect(brokerLines.allSatisfy { $0["time"]?.stringValue?.hasSuffix("Z") == true && $0["level"] != nil && $0["label"] == "zerotask.broker" })
        let failure = brokerLines.first { $0["kind"] == "task_failed" }
        #expect(failure?["method"] == "math.div" && failure?["code"] == "-32602" && failure?["level"] == "info")
        #expect(failure?["message"]?.stringValue?.contains("(math.div) failed: math.div: division by zero (code -32602)") == true, "\(String(describing: failure))")
        #expect(brokerLines.contains { $0["kind"] == "node_joined" && $0["node_id"] == "logged-node" })

        // The node: each task at debug, with method, id, duration and outcome.
        #expect(eventually(20) { node.process.output.contains("\"outcome\":\"ok\"") }, "\(node.process.output)")
        let tasks = Self.jsonLines(node.process.output).filter { $0["outcome"] != nil }
        #expect(tasks.allSatisfy { $0["level"] == "debug" && $0["task_id"]?.stringValue?.isEmpty == false && $0["duration_ms"] != nil })
        #expect(tasks.contains { $0["method"] == "math.add" && $0["outcome"] == "ok" })
        #expect(tasks.contains { $0["method"] == "math.div" && $0["outcome"] == "failed"
            && $0["message"]?.stringValue?.contains("failed: math.div: division by zero") == true })
    }

    @Test func aBadLogFormatIsNamed() throws {
        let bad = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--log-format", "xml",
            "--request", try unusedEndpoint(), "--publish", try unusedEndpoint(), "--http", "off"])
        defer { bad.stop() }
        let status = bad.waitForExit(seconds: 20)
        #expect(status != nil && status != 0)
        #expect(bad.output.contains("broker.log_format must be text or json, not \"xml\""), "\(bad.output)")
    }
}
