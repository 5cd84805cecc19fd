import Foundation
import Testing
import ZeroTaskTestSupport
import ZeroTaskProtocol
import ZeroTaskSystem

/// The `zerotask` client commands, run as real processes against a real broker and test node.
@Suite struct CLITests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    /// A client id of this test's own, so tests running in parallel do not share one.
    func freshID() -> String { "cli-test-\(UInt32.random(in: 0...UInt32.max))" }

    @Test func callPrintsTheResultAsJSON() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let r = try await cli.run(["call", "--broker", broker.request, "math.add", "2", "-3"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout == "-1\n")
        let named = try await cli.run(["call", "--broker", broker.request, "math.add", "--named", "a=40", "--named", "b=2"])
        #expect(named.stdout == "42\n")
        let echoed = try await cli.run(["call", "--broker", broker.request, "echo", "hello", "[1,2]", "{\"k\":null}"])
        #expect(echoed.stdout == "[\"hello\",[1,2],{\"k\":null}]\n")
        let json = try await cli.run(["call", "--broker", broker.request, "echo", "--json", "{\"a\":1}"])
        #expect(json.stdout == "{\"a\":1}\n")
        node.stop()
    }

    @Test func aFailedTaskExits65WithItsErrorOnOneLine() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let r = try await cli.run(["call", "--broker", broker.request, "fail"])
        #expect(r.status == 65)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr == "zerotask: fail failed: boom (code 42, data {\"why\":\"asked to\"})\n")
        node.stop()
    }

    @Test func anUnknownMethodExits69AtOnce() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let r = try await cli.run(["call", "--broker", broker.request, "no.such", "1"])
        #expect(r.status == 69)
        #expect(r.stderr.hasPrefix("zerotask: no node serves method no.such (served: echo, fail, math.add"))
        node.stop()
    }

    @Test func anUnreachableBrokerExits69AndSaysWhatToDo() async throws {
        let endpoint = try unusedEndpoint()
        let r = try await cli.run(["call", "--broker", endpoint, "--timeout", "0.5", "math.add", "1", "2"])
        #expect(r.status == 69)
        #expect(r.stderr == "zerotask: no broker answered at \(endpoint) within 0.5 s (is a node or broker running? start one with: zerotask node --broker builtin)\n")
        // The environment variable names the broker too.
        let env = try await cli.run(["methods", "--timeout", "0.5"], environment: ["ZEROTASK_BROKER": endpoint])
        #expect(env.status == 69 && env.stderr.contains(endpoint))
    }

    @Test func theConfigurationFileNamesTheBroker() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let file = FixturePlugins.temporaryDirectory("zt-config") + "/zerotask.yaml"
        try "client:\n  broker: \(broker.request)   # the test broker\n".write(toFile: file, atomically: true, encoding: .utf8)
        let r = try await cli.run(["call", "--config", file, "math.add", "1", "2"])
        #expect(r.status == 0 && r.stdout == "3\n", "stderr: \(r.stderr)")
        let env = try await cli.run(["call", "math.add", "1", "2"], environment: ["ZEROTASK_CONFIG": file])
        #expect(env.status == 0 && env.stdout == "3\n", "stderr: \(env.stderr)")
        node.stop()
    }

    @Test func usageErrorsExit64() async throws {
        let r = try await cli.run(["call", "math.add", "1", "--json", "[1]"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("pass params one way"))
        let bad = try await cli.run(["call", "math.add", "--json", "{nope"])
        #expect(bad.status == 64)
        let missing = try await cli.run(["status"])
        #expect(missing.status == 64)
    }

    @Test func submitStatusResultAndCancelShareTheClientID() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let id = freshID()
        let common = ["--broker", broker.request, "--client-id", id]
        let submitted = try await cli.run(["submit"] + common + ["sleep", "0.2", "--result-ttl", "600", "--priority", "2"])
        #expect(submitted.status == 0, "stderr: \(submitted.stderr)")
        let taskID = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(taskID.hasPrefix(id + "-"))
        let waited = try await cli.run(["result"] + common + [taskID, "--wait", "--wait-timeout", "60"])
        #expect(waited.status == 0 && waited.stdout == "0.2\n", "stderr: \(waited.stderr)")
        let status = try await cli.run(["status"] + common + [taskID, "--json"])
        let info = try JSONValue.parse(status.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(info["state"] == "finished" && info["node_id"] == .string(node.nodeID))
        #expect(info["result_ttl"]?.doubleValue == 600 && info["priority"] == 2)  // the task flags reached the broker
        let human = try await cli.run(["status"] + common + [taskID])
        #expect(human.stdout.contains("state     finished"))

        let never = try await cli.run(["submit"] + common + ["never"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let notYet = try await cli.run(["result"] + common + [never])
        #expect(notYet.status == 75 && notYet.stderr.contains("not complete yet"))
        let cancelled = try await cli.run(["cancel"] + common + [never])
        #expect(cancelled.status == 0 && cancelled.stdout == "cancelled \(never)\n")
        let failed = try await cli.run(["result"] + common + [never, "--json"])
        #expect(failed.status == 65)
        #expect(try JSONValue.parse(failed.stdout.trimmingCharacters(in: .whitespacesAndNewlines))["error"]?["code"] == -32062)

        // Another client id does not see the task: a usage error that says why.
        let other = try await cli.run(["status", "--broker", broker.request, "--client-id", freshID(), taskID])
        #expect(other.status == 64 && other.stderr.contains("task ids are per client"))
        node.stop()
    }

    @Test func theStableClientIDIsKeptPerUserAndCannotBeDerivedFromTheNames() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        defer { node.stop() }
        let home = FixturePlugins.temporaryDirectory("zt-home")
        defer { try? FileManager.default.removeItem(atPath: home) }
        // No --client-id and no ZEROTASK_CLIENT_ID: the stable id, kept under this HOME.
        let env = ["HOME": home, "XDG_CONFIG_HOME": "", "ZEROTASK_CLIENT_ID": "", "USER": "alice"]
        let submitted = try await cli.run(["submit", "--broker", broker.request, "math.add", "1", "2"], environment: env)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let taskID = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let file = home + "/.config/zerotask/client-id"
        let kept = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(taskID.hasPrefix(kept + "-"), "\(taskID) vs \(kept)")
        #expect(kept.hasPrefix("cli-alice-") && kept.count == "cli-alice-".count + 16, "\(kept)")
        // Not the host's name (a substring check failed by chance: a random token held "vm").
        #expect(kept != "cli-alice-" + (HostName.current() ?? "localhost"), "\(kept)")
        let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        // The next command finds the task under the same id.
        let result = try await cli.run(["result", "--broker", broker.request, taskID, "--wait", "--wait-timeout", "60"], environment: env)
        #expect(result.status == 0 && result.stdout == "3\n", "\(result.stderr)")
        // Another user (another HOME) gets another id, and does not see the task.
        let elsewhere = FixturePlugins.temporaryDirectory("zt-home")
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let other = try await cli.run(["status", "--broker", broker.request, taskID],
            environment: ["HOME": elsewhere, "XDG_CONFIG_HOME": "", "ZEROTASK_CLIENT_ID": "", "USER": "alice"])
        #expect(other.status == 64 && other.stderr.contains("task ids are per client"), "\(other)")
        // Same user, same host, another id: nothing in it comes from the names.
        let otherKept = try String(contentsOfFile: elsewhere + "/.config/zerotask/client-id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(otherKept.hasPrefix("cli-alice-") && otherKept != kept, "\(otherKept) vs \(kept)")
    }

    @Test func concurrentCommandsWithTheSameClientIDTakeTurns() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let common = ["--broker", broker.request, "--client-id", freshID(), "--timeout", "30"]
        let taskID = try await cli.run(["submit"] + common + ["math.add", "1", "2"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<4 { group.addTask { try await cli.run(["result"] + common + [taskID, "--wait"]).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == [0, 0, 0, 0])
        node.stop()
    }

    @Test func methodsAndNodesShowTablesOrJSON() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let methods = try await cli.run(["methods", "--broker", broker.request])
        #expect(methods.status == 0)
        let lines = methods.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("METHOD") == true)
        #expect(lines.contains { $0.hasPrefix("math.add") && $0.contains("(a: int64, b: int64) -> int64") })
        let json = try JSONValue.parse(try await cli.run(["methods", "--broker", broker.request, "--json"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(json.arrayValue?.contains { $0["name"] == "math.add" && $0["nodes"] == [.string(node.nodeID)] } == true)
        let nodes = try await cli.run(["nodes", "--broker", broker.request])
        #expect(nodes.status == 0 && nodes.stdout.contains(node.nodeID))
        let nodesJSON = try JSONValue.parse(try await cli.run(["nodes", "--broker", broker.request, "--json"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(nodesJSON.arrayValue?.first?["node_id"] == .string(node.nodeID))
        node.stop()
    }

    @Test func benchChecksEveryResult() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        let r = try await cli.run(["bench", "--broker", broker.request, "--tasks", "300", "--inflight", "8", "--json"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let report = try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(report["ok"] == 300 && report["errors"] == 0)
        #expect(report["latency_ms"]?["p99"]?.doubleValue != nil)
        #expect(report["jobs_per_second"]?.doubleValue ?? 0 > 0)
        // Not a terminal: progress comes as plain lines, without carriage returns.
        #expect(r.stderr.contains("300/300 done (100%)") && !r.stderr.contains("\r"))
        let human = try await cli.run(["bench", "--broker", broker.request, "--tasks", "50", "--inflight", "4"])
        #expect(human.status == 0 && human.stdout.contains("50 ok, 0 errors") && human.stdout.contains("p50"))
        node.stop()
    }

    @Test func benchCountsWrongResultsAsErrors() async throws {
        let broker = try TestBroker()
        // This node answers math.add(a, b) with a + b + 1 whenever a % 7 == 3.
        let node = try TestNode(broker: broker.request, wrongAdd: true)
        let r = try await cli.run(["bench", "--broker", broker.request, "--tasks", "100", "--inflight", "10", "--json"])
        #expect(r.status == 65)
        let report = try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let expectedWrong = (0..<100).filter { $0 % 7 == 3 }.count
        #expect(report["wrong"] == .int(Int64(expectedWrong)))
        #expect(report["errors"] == .int(Int64(expectedWrong)) && report["ok"] == .int(Int64(100 - expectedWrong)))
        #expect(r.stderr.contains("wrong result for math.add(3, 4): got 8, expected 7"))
        node.stop()
    }

    @Test func benchOfAnUnservedMethodExits69() async throws {
        let broker = try TestBroker()
        let r = try await cli.run(["bench", "--broker", broker.request, "--method", "nobody.serves", "--tasks", "5"])
        #expect(r.status == 69 && r.stderr.contains("no node serves method nobody.serves"))
    }
}

extension CLITests {
    /// `zerotask plugins check`: a verdict per plugin, and exit status 0 only when every plugin
    /// loads (README.md).
    @Test func pluginsCheckExitsNonZeroOnAnyProblem() async throws {
        let fixtures = Binaries.repositoryRoot + "/Tests/ZeroTaskNodeTests/Fixtures"
        let dir = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FixturePlugins.compile("extra", from: fixtures, into: dir)
        let good = try await cli.run(["plugins", "check", dir])
        #expect(good.status == 0, "stdout: \(good.stdout) stderr: \(good.stderr)")
        #expect(good.stdout.contains("extra"))
        // A manifest naming a symbol its library does not have.
        try FileManager.default.copyItem(atPath: dir + "/extra.so", toPath: dir + "/broken.so")
        try #"{"abi": 1, "name": "broken", "methods": [{"name": "broken.x", "symbol": "no_such_symbol", "returns": "int64"}]}"#
            .write(toFile: dir + "/broken.json", atomically: true, encoding: .utf8)
        let bad = try await cli.run(["plugins", "check", dir])
        #expect(bad.status == 1, "stdout: \(bad.stdout) stderr: \(bad.stderr)")
        #expect(bad.stdout.contains("broken") && bad.stdout.contains("no_such_symbol"), "\(bad.stdout)")
        #expect(bad.stdout.contains("extra"))
    }
}
