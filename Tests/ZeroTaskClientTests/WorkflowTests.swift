import Foundation
import Testing
import ZeroTaskTestSupport
import ZeroTaskClient
import ZeroTaskProtocol

/// Workflows end to end: the Swift client and the CLI against a real broker and a real node
/// serving the example plugins.
@Suite struct WorkflowTests {
    @Test func aChainAndAGroupWithACallbackRunOnARealNode() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker, waitingFor: "stats.summary")
        defer { node.stop() }
        let client = try await ZeroTaskClient(request: broker.request)
        // (1 + 2) × 10, then + 5.
        let chain = try await client.chain([TaskSpec("math.add", [1, 2]), TaskSpec("math.mul", [10]), TaskSpec("math.add", [5])])
        #expect(try await chain.wait(timeout: .seconds(60)) == 35)
        // Two sums at once, their summary from the callback.
        let group = try await client.group(
            [TaskSpec("math.add", [1, 2]), TaskSpec("math.add", [3, 4])], callback: TaskSpec("stats.summary", .none))
        let summary = try await group.wait(timeout: .seconds(60))
        #expect(summary["count"] == 2 && summary["min"]?.doubleValue == 3 && summary["max"]?.doubleValue == 7, "\(summary)")
        // Without a callback, the results in order.
        let plain = try await client.group([TaskSpec("text.upper", ["a"]), TaskSpec("text.upper", ["b"])])
        #expect(try await plain.wait(timeout: .seconds(60)) == ["A", "B"])
        await client.close()
    }

    @Test func aFailingStepEndsTheChainAndCancellingAWorkflowStopsItsRunningTask() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker, waitingFor: "math.sleep")
        defer { node.stop() }
        let client = try await ZeroTaskClient(request: broker.request)
        let failing = try await client.chain([TaskSpec("math.div", [1, 0]), TaskSpec("math.mul", [10])])
        do {
            _ = try await failing.wait(timeout: .seconds(60))
            Issue.record("the chain did not fail")
        } catch let ZeroTaskClientError.taskFailed(_, e) {
            #expect(e.message.contains("chain task 1 of 2 (math.div) failed"), "\(e.message)")
        }
        let slow = try await client.chain([TaskSpec("math.sleep", [60_000]), TaskSpec("math.add", [1])], id: "slow")
        let first = client.task(slow.id + ".1")
        var running = false
        for _ in 0..<300 where !running {
            running = (try? await first.status()) == .running
            if !running { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(running, "the first step never ran")
        #expect(try await slow.cancel())
        do {
            _ = try await slow.wait(timeout: .seconds(30))
            Issue.record("the cancelled workflow finished")
        } catch let ZeroTaskClientError.taskFailed(_, e) {
            #expect(e.code == ErrorCode.taskCancelled.rawValue)
        }
        // Its running step was cancelled too, and the next never started.
        do {
            _ = try await first.wait(timeout: .seconds(30))
            Issue.record("the running step finished")
        } catch let ZeroTaskClientError.taskFailed(_, e) {
            #expect(e.code == ErrorCode.taskCancelled.rawValue)
        }
        let info = try await slow.info()
        #expect(info.json["workflow"]?["task_ids"]?.arrayValue?.count == 1, "\(info.json)")
        await client.close()
    }

    @Test func theCLIRunsAWorkflowAndRefusesABadStepWith64() async throws {
        let cli = try CLIRunner()
        let broker = try TestBroker()
        let node = try RealNode(broker: broker)
        defer { node.stop() }
        let r = try await cli.run(["workflow", "chain", "--broker", broker.request, "math.add [1, 2]", "math.mul [10]", "--wait"])
        #expect(r.status == 0 && r.stdout == "30\n", "stderr: \(r.stderr)")
        let g = try await cli.run(["workflow", "group", "--broker", broker.request, "text.upper [\"x\"]", "text.length [\"abc\"]", "--wait"])
        #expect(g.status == 0 && g.stdout == "[\"X\",3]\n", "stdout: \(g.stdout) stderr: \(g.stderr)")
        // Without --wait: its id; `zerotask status` shows the workflow and its tasks.
        let started = try await cli.run(["workflow", "chain", "--broker", broker.request, "math.add [2, 3]", "math.mul [10]"])
        let id = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(started.status == 0 && !id.isEmpty, "\(started.stderr)")
        var shown: String?
        for _ in 0..<300 where shown == nil {
            let s = try await cli.run(["status", "--broker", broker.request, id])
            if s.stdout.contains("finished") { shown = s.stdout } else { try await Task.sleep(for: .milliseconds(200)) }
        }
        let lines = (shown ?? "").split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("workflow ") && $0.hasSuffix(" chain of 2 tasks") }, "\(shown ?? "")")
        #expect(lines.contains { $0.hasPrefix("its tasks ") && $0.hasSuffix(" \(id).1, \(id).2") }, "\(shown ?? "")")
        let bad = try await cli.run(["workflow", "chain", "--broker", broker.request, "math.add [1,", "math.mul [10]"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("STEP 1 \"math.add [1,\""), "\(bad.stderr)")
    }
}
