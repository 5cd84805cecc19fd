import Foundation
import Testing
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Limits, routing and queue control end to end (issue 17, items 4 and 5): a real broker on
/// loopback, real `zerotask node` processes serving the example plugins, the real CLI.
@Suite struct LimitsEndToEndTests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    /// The broker's view of a task: `{started, finished, node_id, state, …}`.
    static func task(_ peer: TestPeer, _ id: String) throws -> JSONValue {
        try peer.result("admin_task", ["task_id": .string(id)])
    }

    @Test func aConcurrencyOfOneRunsTasksOneAfterAnotherAcrossTwoNodes() async throws {
        let broker = try TestBroker { $0.methodPolicies["math.sleep"] = MethodPolicy(concurrency: 1) }
        let a = try RealNode(broker: broker, waitingFor: "math.sleep", extra: ["--node-id", "na"])
        defer { a.stop() }
        let b = try RealNode(broker: broker, waitingFor: "math.sleep", extra: ["--node-id", "nb"])
        defer { b.stop() }
        let peer = try broker.peer()
        let client = try peer.result("client_connect", ["e2e-limit"])
        var ids: [String] = []
        for i in 0..<4 {
            let id = try peer.result("client_new_task", ["client_id": client, "method": "math.sleep", "params": [150], "task_id": .string("s\(i)")])
            ids.append(try #require(id.stringValue))
        }
        // While they run, the methods list says at most one is running, and the limit.
        let listed = try peer.result("methods").arrayValue?.first { $0["name"] == "math.sleep" }
        #expect(listed?["concurrency"] == 1)
        #expect((listed?["running"]?.int64Value ?? 0) <= 1)
        let stats = try await cli.run(["stats", "--broker", broker.request, "--interval", "0"])
        #expect(stats.stdout.split(separator: "\n").contains { $0.hasPrefix("math.sleep") && $0.hasSuffix("max 1") }, "\(stats.stdout)")
        #expect(try eventually(60) { try ids.allSatisfy { try Self.task(peer, $0)["state"] == "finished" } })
        // Two nodes with a free worker each, yet no two tasks ran at once: each started after
        // the one before it had finished (the broker's own times).
        let spans = try ids.map { id -> (Double, Double) in
            let t = try Self.task(peer, id)
            return (try #require(t["started"]?.doubleValue), try #require(t["finished"]?.doubleValue))
        }.sorted { $0.0 < $1.0 }
        for (earlier, later) in zip(spans, spans.dropFirst()) {
            #expect(later.0 >= earlier.1, "a task started at \(later.0) while another ran until \(earlier.1)")
        }
    }

    @Test func taggedTasksRunOnlyOnTheTaggedNodeAndOthersWaitQueued() async throws {
        let broker = try TestBroker()
        let gpu = try RealNode(broker: broker, waitingFor: "math.add", extra: ["--node-id", "gpu-node", "--tags", "gpu,eu"])
        defer { gpu.stop() }
        let plain = try RealNode(broker: broker, waitingFor: "math.add", extra: ["--node-id", "plain-node"])
        defer { plain.stop() }
        let common = ["--broker", broker.request, "--client-id", "cli-tags"]
        var ids: [String] = []
        for i in 0..<6 {
            let r = try await cli.run(["submit"] + common + ["--tags", "gpu", "math.add", "\(i)", "1"])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            ids.append(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let waiting = try await cli.run(["submit"] + common + ["--tags", "tpu", "math.add", "1", "1"])
        #expect(waiting.status == 0, "stderr: \(waiting.stderr)")
        let waitingID = waiting.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let peer = try broker.peer()
        #expect(try eventually(60) { try ids.allSatisfy { try Self.task(peer, $0)["state"] == "finished" } })
        for id in ids { #expect(try Self.task(peer, id)["node_id"] == "gpu-node") }
        // No node has tpu: queued, not failed, its tags shown.
        let info = try Self.task(peer, waitingID)
        #expect(info["state"] == "queued")
        #expect(info["tags"] == ["tpu"])
        let status = try await cli.run(["status"] + common + [waitingID])
        #expect(status.stdout.contains("state     queued") && status.stdout.contains("tags      tpu"), "\(status.stdout)")
        let listed = try await cli.run(["tasks", "--broker", broker.request, "--state", "queued"])
        #expect(listed.stdout.split(separator: "\n").contains { $0.hasPrefix(waitingID) && $0.contains(" tpu ") }, "\(listed.stdout)")
        let nodes = try await cli.run(["nodes", "--broker", broker.request])
        #expect(nodes.stdout.split(separator: "\n").contains { $0.hasPrefix("gpu-node") && $0.contains("eu,gpu") }, "\(nodes.stdout)")
        // A bad tag is a usage error naming the flag.
        let bad = try await cli.run(["submit"] + common + ["--tags", "a b", "math.add", "1", "1"])
        #expect(bad.status == 64 && bad.stderr.contains("--tags holds \"a b\""), "stderr: \(bad.stderr)")
    }

    @Test func queuePauseResumeAndPurgeFromTheCommandLine() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker, waitingFor: "math.add")
        defer { node.stop() }
        let common = ["--broker", broker.request]
        let pause = try await cli.run(["queue", "pause", "math.add"] + common)
        #expect(pause.status == 0 && pause.stdout.hasPrefix("math.add: paused"), "stderr: \(pause.stderr)")
        let submitted = try await cli.run(["submit"] + common + ["--client-id", "cli-queue", "math.add", "2", "3"])
        #expect(submitted.status == 0, "stderr: \(submitted.stderr)")
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // Other methods flow meanwhile; the paused one stays queued.
        let other = try await cli.run(["call"] + common + ["math.mul", "6", "7"])
        #expect(other.stdout == "42\n", "stderr: \(other.stderr)")
        let peer = try broker.peer()
        #expect(try Self.task(peer, id)["state"] == "queued")
        let methods = try await cli.run(["methods"] + common)
        #expect(methods.stdout.split(separator: "\n").contains { $0.hasPrefix("math.add ") && $0.contains("PAUSED") }, "\(methods.stdout)")
        let json = try await cli.run(["methods", "--json"] + common)
        #expect(json.stdout.contains("\"paused\":true"))

        let resume = try await cli.run(["queue", "resume", "math.add"] + common)
        #expect(resume.status == 0, "stderr: \(resume.stderr)")
        #expect(try eventually(60) { try Self.task(peer, id)["state"] == "finished" })

        // Purge: paused again, three queued, all cancelled, counted.
        _ = try await cli.run(["queue", "pause", "math.add"] + common)
        for i in 0..<3 { _ = try await cli.run(["submit"] + common + ["--client-id", "cli-queue", "math.add", "\(i)", "1"]) }
        let purge = try await cli.run(["queue", "purge", "math.add", "--json"] + common)
        #expect(purge.status == 0, "stderr: \(purge.stderr)")
        let answer = try JSONValue.parse(purge.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(answer["purged"] == 3)
        #expect(answer["paused"] == true)
        let cancelled = try peer.result("admin_tasks", ["state": "cancelled", "method": "math.add"])
        #expect(cancelled["tasks"]?.arrayValue?.count == 3)

        let bad = try await cli.run(["queue", "stop", "math.add"] + common)
        #expect(bad.status == 64 && bad.stderr.contains("pause, resume or purge"), "stderr: \(bad.stderr)")
    }
}
