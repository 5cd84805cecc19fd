import Foundation
import Testing
import ZeroTaskTestSupport
import ZeroTaskProtocol

/// `zerotask stats`, `--version`, params from a file or standard input, words read by the
/// method's signature, and the usage errors around them: the real binary against a real broker
/// and a real node serving the example plugins.
@Suite struct CLIOperationsTests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    @Test func versionPrintsTheReleaseAndHowItWasBuilt() async throws {
        let r = try await cli.run(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout == "zerotask \(ZeroTaskVersion.description)\n")
        #expect(r.stdout.hasPrefix("zerotask \(ZeroTaskVersion.current) (") && r.stdout.contains(" build, Swift "))
    }

    @Test func aWordStaysAStringWhereTheSignatureSaysString() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker)
        defer { node.stop() }
        // text.upper (s: string): 5 would be the number 5 as JSON; the signature makes it text.
        let upper = try await cli.run(["call", "--broker", broker.request, "text.upper", "5"])
        #expect(upper.status == 0 && upper.stdout == "\"5\"\n", "stderr: \(upper.stderr)")
        let length = try await cli.run(["call", "--broker", broker.request, "text.length", "--named", "s=[1, 2]"])
        #expect(length.status == 0 && length.stdout == "6\n", "stderr: \(length.stderr)")
        // A quoted JSON string is still read as JSON.
        let quoted = try await cli.run(["call", "--broker", broker.request, "text.reverse", "\"ab\""])
        #expect(quoted.stdout == "\"ba\"\n", "stderr: \(quoted.stderr)")
        // Numbers stay numbers where the signature says so.
        let add = try await cli.run(["call", "--broker", broker.request, "math.add", "2", "3"])
        #expect(add.stdout == "5\n", "stderr: \(add.stderr)")
    }

    @Test func paramsThatCannotFitTheSignatureExit64BeforeSubmitting() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker)
        defer { node.stop() }
        let word = try await cli.run(["call", "--broker", broker.request, "math.add", "2", "x"])
        #expect(word.status == 64)
        #expect(word.stderr == "zerotask: math.add: param \"b\" must be an integer (int64), not string \"x\"; it takes (a: int64, b: int64) (see: zerotask methods)\n")
        let count = try await cli.run(["submit", "--broker", broker.request, "--client-id", "cli-fit", "math.add", "1"])
        #expect(count.status == 64)
        #expect(count.stderr.contains("math.add takes 2 params (a: int64, b: int64), got 1"))
        let name = try await cli.run(["call", "--broker", broker.request, "math.add", "--params", "{\"a\": 1, \"c\": 2}"])
        #expect(name.status == 64 && name.stderr.contains("unexpected param \"c\""))
        // Nothing reached the broker's queues.
        let stats = try broker.peer().result("stats")
        #expect(stats["submitted_total"] == 0)
    }

    @Test func paramsComeFromAFileOrStandardInput() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker)
        defer { node.stop() }
        let file = FixturePlugins.temporaryDirectory("zt-params") + "/params.json"
        try "{\"a\": 40, \"b\": 2}\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try await cli.run(["call", "--broker", broker.request, "math.add", "--params", "@" + file])
        #expect(fromFile.status == 0 && fromFile.stdout == "42\n", "stderr: \(fromFile.stderr)")
        let fromStdin = try await cli.run(["call", "--broker", broker.request, "math.add", "--params", "-"], stdin: "[7, 8]")
        #expect(fromStdin.status == 0 && fromStdin.stdout == "15\n", "stderr: \(fromStdin.stderr)")
        let inline = try await cli.run(["call", "--broker", broker.request, "math.add", "--params", "[1, 1]"])
        #expect(inline.stdout == "2\n", "stderr: \(inline.stderr)")

        // Read before any broker is asked: the file is named, the exit is 64.
        let missing = try await cli.run(["call", "math.add", "--params", "@/nonexistent/p.json"])
        #expect(missing.status == 64 && missing.stderr == "zerotask: --params @/nonexistent/p.json: /nonexistent/p.json: no such file\n")
        try "[1,".write(toFile: file, atomically: true, encoding: .utf8)
        let broken = try await cli.run(["call", "math.add", "--params", "@" + file])
        #expect(broken.status == 64 && broken.stderr.hasPrefix("zerotask: --params @\(file): not valid JSON"))
        let scalar = try await cli.run(["call", "math.add", "--params", "-"], stdin: "5")
        #expect(scalar.status == 64 && scalar.stderr.contains("must be a JSON object or array, not integer"))
        let twice = try await cli.run(["call", "math.add", "1", "--params", "[1]"])
        #expect(twice.status == 64 && twice.stderr.contains("pass params one way"))
    }

    @Test func anEndpointWithoutASchemeIsAUsageErrorNamingWhereItCameFrom() async throws {
        let flag = try await cli.run(["call", "--broker", "127.0.0.1:5555", "math.add", "1", "2"])
        #expect(flag.status == 64)
        #expect(flag.stderr == "zerotask: --broker \"127.0.0.1:5555\" has no transport: write it as a ZeroMQ endpoint with its scheme, e.g. --broker tcp://127.0.0.1:5555\n")
        let env = try await cli.run(["methods"], environment: ["ZEROTASK_BROKER": "localhost"])
        #expect(env.status == 64)
        #expect(env.stderr.contains("ZEROTASK_BROKER \"localhost\" has no transport") && env.stderr.contains("tcp://localhost:5555"))
        let publish = try await cli.run(["nodes", "--broker", "tcp://127.0.0.1:5555", "--publish", "127.0.0.1:5556"])
        #expect(publish.status == 64 && publish.stderr.contains("--publish \"127.0.0.1:5556\" has no transport"))
    }

    @Test func statsShowsTasksPerMethodNodesWorkersAndRates() async throws {
        let broker = try TestBroker()
        let node = try TestNode(broker: broker.request)
        defer { node.stop() }
        let id = "cli-stats-\(UInt32.random(in: 0...UInt32.max))"
        let common = ["--broker", broker.request, "--client-id", id]
        // One task queued for a method nobody serves, one running forever on the node.
        for method in ["nobody.home", "never"] {
            let r = try await cli.run(["submit"] + common + [method])
            #expect(r.status == 0, "stderr: \(r.stderr)")
        }
        let peer = try broker.peer()
        // The test node takes the task without reporting it started: assigned, not running.
        #expect(eventually(20) { (try? peer.result("stats")["assigned"]) == 1 })

        let json = try await cli.run(["stats", "--broker", broker.request, "--interval", "0.2", "--json"])
        #expect(json.status == 0, "stderr: \(json.stderr)")
        let report = try JSONValue.parse(json.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let methods = report["methods"]?.arrayValue ?? []
        #expect(methods.contains { $0["name"] == "nobody.home" && $0["queued"] == 1 && $0["nodes"] == 0 })
        #expect(methods.contains { $0["name"] == "never" && $0["running"] == 1 && $0["nodes"] == 1 })
        #expect(report["nodes"]?.arrayValue?.first?["node_id"] == .string(node.nodeID))
        #expect(report["workers_busy"] == 1)
        #expect(report["stats"]?["submitted_total"] == 2)
        #expect(report["rates"]?["submitted_per_second"]?.doubleValue == 0)
        #expect((report["rates"]?["interval"]?.doubleValue ?? 0) >= 0.2)

        let text = try await cli.run(["stats", "--broker", broker.request, "--interval", "0"])
        #expect(text.status == 0, "stderr: \(text.stderr)")
        #expect(text.stdout.contains("tasks    2 held: queued 1, assigned 1, running 0, finished 0, failed 0"), "\(text.stdout)")
        #expect(text.stdout.contains("totals   submitted 2, finished 0, failed 0, requeued 0"))
        #expect(!text.stdout.contains("rates"))
        #expect(text.stdout.split(separator: "\n").contains { $0.hasPrefix("nobody.home") && $0.hasSuffix("1        0      0") })
        #expect(text.stdout.contains(node.nodeID))
    }
}
