import Foundation
import Testing
import ZeroTaskClient
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Strangers' peers, written in Python (pyzmq) from the seed message spec alone: a seed node and
/// a seed client through `zerotask broker`, and the CLI and the Swift client against a broker
/// that implements only the seed methods. python3 with pyzmq is required (scripts/install-deps.sh
/// installs it); without it these tests fail, they do not skip.
@Suite(.serialized) struct SeedPeerTests {
    static let scripts = Binaries.repositoryRoot + "/Tests/python/"

    /// Starts `python3 -u Tests/python/SCRIPT ARGS…`.
    static func python(_ script: String, _ args: [String]) throws -> ChildProcess {
        try ChildProcess("/usr/bin/env", ["python3", "-u", scripts + script] + args)
    }

    static func requirePyzmq() throws {
        let probe = try ChildProcess("/usr/bin/env", ["python3", "-c", "import zmq"])
        try #require(probe.waitForExit(seconds: 60) == 0,
            "python3 with pyzmq is required for the seed peer tests; run scripts/install-deps.sh: \(probe.output)")
    }

    /// The minimal seed-only broker (Tests/python/seed_broker.py) and its endpoint.
    static func seedBroker() throws -> (ChildProcess, String) {
        let broker = try python("seed_broker.py", [])
        var endpoint = ""
        _ = eventually(30) {
            endpoint = broker.output.split(separator: "\n").first { $0.hasPrefix("endpoint ") }
                .map { String($0.dropFirst("endpoint ".count)) } ?? ""
            return !endpoint.isEmpty
        }
        try #require(!endpoint.isEmpty, "seed_broker.py did not start: \(broker.output)")
        return (broker, endpoint)
    }

    @Test func aSeedNodeAndASeedClientWorkThroughZerotaskBrokerAcrossIdlePauses() async throws {
        try Self.requirePyzmq()
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        // node_timeout 1 s: the node, which never heartbeats, is dropped in every pause.
        let broker = try ChildProcess(Binaries.zerotask, [
            "broker", "--store", "memory", "--node-timeout", "1", "--request", request, "--publish", publish,
        ])
        defer { broker.stop() }
        let node = try Self.python("seed_node.py", [request, publish])
        defer { node.stop() }
        #expect(eventually(60) { node.output.contains("ready ") }, "seed node: \(node.output)\nbroker: \(broker.output)")

        // 300 tasks from the Python seed client in three bursts, 2.5 s apart (> node_timeout).
        let client = try Self.python("seed_client.py", [request, "3", "100", "2.5"])
        defer { client.stop() }
        #expect(client.waitForExit(seconds: 300) == 0, "seed client: \(client.output)\nnode: \(node.output)")
        #expect(client.output.contains("seed client OK 300"), "\(client.output)")

        // And from the CLI: `call` one by one, across an idle pause, and 200 through bench.
        let cli = try CLIRunner()
        let flags = ["--broker", request, "--publish", publish, "--timeout", "20"]
        // A task nobody runs fails the command (exit 75) instead of hanging the test.
        let bounded = ["--wait-timeout", "30"]
        let methods = try await cli.run(["methods"] + flags)
        #expect(methods.status == 0 && methods.stdout.contains("any (seed node)"), "\(methods)")
        for i in 0..<6 {
            if i == 3 { try await Task.sleep(for: .seconds(2.5)) }
            let out = try await cli.run(["call", "add", String(i), "10"] + bounded + flags)
            #expect(out.status == 0 && out.stdout == "\(i + 10)\n", "call add \(i) 10: \(out)\nnode: \(node.output)")
        }
        let failed = try await cli.run(["call", "fail", "7"] + bounded + flags)
        #expect(failed.status == 65, "\(failed)")
        #expect(failed.stderr.contains("fail failed: failed on purpose with [7] (code 4242)"), "\(failed)")
        let bench = try await cli.run(["bench", "--method", "math.add", "--tasks", "200", "--inflight", "4"] + bounded + flags)
        #expect(bench.status == 0, "bench: \(bench)\nnode: \(node.output)")
        #expect(node.isRunning && !node.output.contains("FAIL"), "\(node.output)")
    }

    @Test func theCLIWorksAgainstASeedOnlyBroker() async throws {
        try Self.requirePyzmq()
        let (broker, endpoint) = try Self.seedBroker()
        defer { broker.stop() }
        let cli = try CLIRunner()
        let flags = ["--broker", endpoint, "--timeout", "10", "--client-id", "seedcli"]

        let call = try await cli.run(["call", "add", "2", "3"] + flags)
        #expect(call.status == 0 && call.stdout == "5\n", "\(call)\nbroker: \(broker.output)")
        let failing = try await cli.run(["call", "fail", "1"] + flags)
        #expect(failing.status == 65 && failing.stderr.contains("failed on purpose with [1] (code 4242)"), "\(failing)")
        let late = try await cli.run(["call", "never", "--wait-timeout", "1"] + flags)
        #expect(late.status == 75, "\(late)")

        let submitted = try await cli.run(["submit", "add", "40", "2"] + flags)
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(submitted.status == 0 && id.hasPrefix("seedcli-"), "\(submitted)")
        let waited = try await cli.run(["result", id, "--wait"] + flags)
        #expect(waited.status == 0 && waited.stdout == "42\n", "\(waited)")
        let again = try await cli.run(["result", id, "--json"] + flags)
        #expect(again.status == 0 && again.stdout.contains(#""result":42"#), "\(again)")
        let status = try await cli.run(["status", id] + flags)
        #expect(status.status == 0 && status.stdout.contains("finished"), "\(status)")

        let queued = try await cli.run(["submit", "never"] + flags).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let notYet = try await cli.run(["result", queued] + flags)
        #expect(notYet.status == 75 && notYet.stderr.contains("not complete yet"), "\(notYet)")
        let queuedStatus = try await cli.run(["status", queued] + flags)
        #expect(queuedStatus.status == 0 && queuedStatus.stdout.contains("queued"), "\(queuedStatus)")

        let bad = try await cli.run(["submit", "fail", "9"] + flags).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let badResult = try await cli.run(["result", bad, "--wait"] + flags)
        #expect(badResult.status == 65 && badResult.stderr.contains("code 4242"), "\(badResult)")
        let badStatus = try await cli.run(["status", bad] + flags)
        #expect(badStatus.stdout.contains("failed") && badStatus.stdout.contains("4242"), "\(badStatus)")
        let unknown = try await cli.run(["result", "seedcli-nope"] + flags)
        #expect(unknown.status == 64, "\(unknown)")

        for command in ["nodes", "methods"] {
            let out = try await cli.run([command] + flags)
            #expect(out.status == 69, "\(command): \(out)")
            #expect(out.stderr.contains("does not support \(command)") && out.stderr.contains("seed methods"), "\(command): \(out)")
        }
    }

    @Test func theSwiftClientFallsBackToSeedMethods() async throws {
        try Self.requirePyzmq()
        let (broker, endpoint) = try Self.seedBroker()
        defer { broker.stop() }
        let client = try await ZeroTaskClient(request: endpoint, requestTimeout: .seconds(10))
        #expect(try await client.call("add", .positional([1, 2])) == 3)
        #expect(client.brokerIsSeedOnly)
        // Concurrent calls: one by one on the wire (no batch), each with its own result.
        let sums = try await withThrowingTaskGroup(of: JSONValue.self) { group in
            for i in 0..<20 { group.addTask { try await client.call("add", .positional([.int(Int64(i)), 1])) } }
            var out: [JSONValue] = []
            for try await v in group { out.append(v) }
            return out
        }
        let expected: [JSONValue] = (1...20).map { .int(Int64($0)) }
        #expect(sums.sorted { ($0.int64Value ?? 0) < ($1.int64Value ?? 0) } == expected)
        let batch = try await client.submitBatch([TaskSpec("add", .positional([5, 5])), TaskSpec("fail", .positional([3]))])
        let handles = batch.compactMap { try? $0.get() }
        #expect(handles.count == 2)
        #expect(try await handles[0].wait() == 10)
        await #expect(throws: ZeroTaskClientError.taskFailed(taskID: handles[1].id,
            error: RPCError(code: 4242, message: "failed on purpose with [3]"))) { try await handles[1].wait() }
        let info = try await handles[1].info()
        #expect(info.status == .failed && info.error?.code == 4242)
        await #expect(throws: ZeroTaskClientError.unsupported(method: "zerotask.broker.nodes", endpoint: endpoint)) {
            try await client.nodes()
        }
        await client.close()
        // What the broker was asked: one extension (`methods`, before the first call), and after
        // that -32601 only seed methods, never a batch.
        let asked = broker.output.split(separator: "\n").filter { $0.hasPrefix("asked ") }
            .map { $0.dropFirst("asked zerotask.broker.".count) }
        let seed: Set<Substring> = ["client_connect", "client_disconnect", "client_new_task", "client_task_status", "client_task_result"]
        #expect(asked.filter { !seed.contains($0) } == ["methods"], "\(broker.output)")
        #expect(!broker.output.contains("refused a batch"), "\(broker.output)")
    }
}
