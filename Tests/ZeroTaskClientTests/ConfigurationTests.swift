import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The configuration as `zerotask` reads it, through the real executable: flag over environment
/// over file over default, and every problem in the file named with its file and line.
@Suite struct ConfigurationTests {
    let cli: CLIRunner
    init() throws { cli = try CLIRunner() }

    static func file(_ text: String, name: String = "zerotask.yaml") throws -> String {
        let path = FixturePlugins.temporaryDirectory("zt-config") + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aMisspeltKeyIsNamedWithItsLineAndTheNearestKnownOne() async throws {
        // Loopback endpoints: were the typo missed, the broker would start on them and nothing else.
        let path = try Self.file("broker:\n  store: memory\n  node_timout: 5   # typo\n  request: \(try unusedEndpoint())\n  publish: \(try unusedEndpoint())\n")
        let r = try await cli.run(["broker", "--config", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(path):3: unknown key broker.node_timout; did you mean broker.node_timeout?"), "\(r.stderr)")
        // A misspelt section too, and from a client command (exit 78, EX_CONFIG).
        let section = try Self.file("clinet:\n  broker: tcp://127.0.0.1:1\n")
        let c = try await cli.run(["methods", "--config", section])
        #expect(c.status == 78)
        #expect(c.stderr == "zerotask: \(section):1: unknown key clinet; did you mean client?\n", "\(c.stderr)")
    }

    @Test func aBadValueIsNamedWithWhereItWasSet() async throws {
        let path = try Self.file("broker:\n  store: memory\n\n  node_timeout: soon\n  request: \(try unusedEndpoint())\n  publish: \(try unusedEndpoint())\n")
        let r = try await cli.run(["broker", "--config", path])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(path):4: broker.node_timeout must be a number, not \"soon\""), "\(r.stderr)")
        let env = try await cli.run(["node", "--config", path, "--broker", "tcp://127.0.0.1:1"],
            environment: ["ZEROTASK_NODE_WORKERS": "many"])
        #expect(env.status != 0)
        #expect(env.stderr.contains("ZEROTASK_NODE_WORKERS (node.workers) must be an integer, not \"many\""), "\(env.stderr)")
        let plugins = try await cli.run(["node", "--config", path, "--broker", "tcp://127.0.0.1:1"],
            environment: ["ZEROTASK_NODE_PLUGIN_CONFIG": "[1]"])
        #expect(plugins.status != 0)
        #expect(plugins.stderr.contains("ZEROTASK_NODE_PLUGIN_CONFIG must be a JSON object"), "\(plugins.stderr)")
    }

    @Test func aFileThatCannotBeReadOrParsedIsAnErrorNeverSkipped() async throws {
        let missing = FixturePlugins.temporaryDirectory("zt-config") + "/absent.yaml"
        let r = try await cli.run(["methods", "--config", missing])
        #expect(r.status == 78)
        #expect(r.stderr == "zerotask: \(missing): cannot read the configuration file: no such file\n", "\(r.stderr)")
        let directory = FixturePlugins.temporaryDirectory("zt-config")
        let d = try await cli.run(["broker", "--store", "memory", "--request", try unusedEndpoint(), "--publish", try unusedEndpoint()],
            environment: ["ZEROTASK_CONFIG": directory])
        #expect(d.status != 0)
        #expect(d.stderr.contains("\(directory): cannot read the configuration file: it is a directory"), "\(d.stderr)")
        let broken = try Self.file("client:\n  broker: [tcp://127.0.0.1:1\n")
        let b = try await cli.run(["call", "--config", broken, "math.add", "1", "2"])
        #expect(b.status == 78)
        #expect(b.stderr.hasPrefix("zerotask: \(broken):3: not valid YAML"), "\(b.stderr)")
    }

    @Test func theShippedFileIsValid() async throws {
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/zerotask.yaml").standardized.path
        let endpoint = try unusedEndpoint()
        let r = try await cli.run(["methods", "--config", shipped, "--broker", endpoint, "--timeout", "0.3"])
        #expect(r.status == 69, "\(r.stderr)")
    }

    /// The request endpoint a broker started with these settings listens on.
    func listening(_ args: [String], environment: [String: String] = [:]) throws -> String {
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory"] + args, environment: environment)
        defer { broker.stop() }
        _ = eventually(30) { broker.output.contains("broker listening") || !broker.isRunning }
        let line = broker.output.split(separator: "\n").first { $0.contains("broker listening") } ?? ""
        broker.signal(SIGTERM)
        #expect(broker.waitForExit(seconds: 30) == 0, "\(broker.output)")
        guard let r = line.range(of: "request=") else { return "none: \(broker.output)" }
        return String(line[r.upperBound...].prefix { $0 != " " })
    }

    @Test func aFlagBeatsTheEnvironmentWhichBeatsTheFile() throws {
        let (fromFile, fromEnv, fromFlag) = (try unusedEndpoint(), try unusedEndpoint(), try unusedEndpoint())
        let path = try Self.file("broker:\n  request: \(fromFile)\n  publish: \(try unusedEndpoint())\n")
        #expect(try listening(["--config", path]) == fromFile)
        let env = ["ZEROTASK_BROKER_REQUEST": fromEnv]
        #expect(try listening(["--config", path], environment: env) == fromEnv)
        #expect(try listening(["--config", path, "--request", fromFlag], environment: env) == fromFlag)
        // $ZEROTASK_CONFIG names the file when --config does not.
        #expect(try listening([], environment: ["ZEROTASK_CONFIG": path]) == fromFile)
    }

    @Test func methodLimitsComeFromTheFileAndTheEnvironmentAndShowInMethods() async throws {
        let path = try Self.file("""
            broker:
              store: memory
              request: \(try unusedEndpoint())
              publish: \(try unusedEndpoint())
              methods:
                math.add: {concurrency: 2, rate: 10/s}
                text.upper:
                  rate: {limit: 5/m, burst: 3}
            """)
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--config", path],
            environment: ["ZEROTASK_BROKER_METHODS": #"{"text.upper": {"concurrency": 1}}"#])
        defer { broker.stop() }
        let request = try listeningEndpoints(of: broker).request
        let r = try await cli.run(["methods", "--json", "--broker", request])
        #expect(r.status == 0, "\(r.stderr)")
        let listed = try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).arrayValue ?? []
        let add = listed.first { $0["name"] == "math.add" }
        #expect(add?["concurrency"] == 2 && add?["rate"] == "10/s", "\(r.stdout)")
        // The environment's entry replaces the file's for its method.
        let upper = listed.first { $0["name"] == "text.upper" }
        #expect(upper?["concurrency"] == 1 && upper?["rate"] == nil, "\(r.stdout)")
        let text = try await cli.run(["methods", "--broker", request])
        #expect(text.stdout.split(separator: "\n").contains { $0.hasPrefix("math.add") && $0.contains("max 2, 10/s") }, "\(text.stdout)")
    }

    @Test func aBadMethodLimitIsNamedWithItsFileLineAndField() async throws {
        let endpoints = "  request: \(try unusedEndpoint())\n  publish: \(try unusedEndpoint())\n"
        let zero = try Self.file("broker:\n  store: memory\n\(endpoints)  methods:\n    math.add: {concurrency: 0}\n")
        let r = try await cli.run(["broker", "--config", zero])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(zero):6: broker.methods.math.add.concurrency must be a whole number from 1 to 1000000, not 0"), "\(r.stderr)")
        let typo = try Self.file("broker:\n  store: memory\n\(endpoints)  methods:\n    math.add: {concurency: 2}\n")
        let t = try await cli.run(["broker", "--config", typo])
        #expect(t.status != 0)
        #expect(t.stderr.contains("\(typo):6: broker.methods.math.add.concurency is not a method setting (known: retry, concurrency, rate)"), "\(t.stderr)")
        let tags = try await cli.run(["node", "--broker", "tcp://127.0.0.1:1"], environment: ["ZEROTASK_NODE_TAGS": "gpu,no good"])
        #expect(tags.status != 0)
        #expect(tags.stderr.contains("ZEROTASK_NODE_TAGS (node.tags) holds \"no good\""), "\(tags.stderr)")
    }

    /// The file is YAML as libyaml reads it: flow and block forms, an anchor's alias standing for
    /// its node, a quoted number staying a string (and so refused where a number belongs), and a
    /// second document in the file an error with its line.
    @Test func yamlFormsReadAsYAMLMeansThem() async throws {
        let path = try Self.file("""
            # limits shared by two methods through an anchor
            broker:
              store: memory
              request: \(try unusedEndpoint())
              publish: \(try unusedEndpoint())
              methods:
                math.add: &shared
                  concurrency: 3
                text.upper: *shared
            """)
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--config", path])
        defer { broker.stop() }
        let request = try listeningEndpoints(of: broker).request
        let r = try await cli.run(["methods", "--json", "--broker", request])
        let listed = try JSONValue.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).arrayValue ?? []
        #expect(listed.first { $0["name"] == "math.add" }?["concurrency"] == 3, "\(r.stdout)")
        #expect(listed.first { $0["name"] == "text.upper" }?["concurrency"] == 3, "\(r.stdout)")

        let endpoints = "  request: \(try unusedEndpoint())\n  publish: \(try unusedEndpoint())\n"
        let quoted = try Self.file("broker:\n  store: memory\n\(endpoints)  methods:\n    math.add: {concurrency: \"2\"}\n")
        let q = try await cli.run(["broker", "--config", quoted])
        #expect(q.status != 0)
        #expect(q.stderr.contains("\(quoted):6: broker.methods.math.add.concurrency"), "\(q.stderr)")

        let two = try Self.file("client:\n  broker: tcp://127.0.0.1:1\n---\nclient:\n  broker: tcp://127.0.0.1:2\n")
        let t = try await cli.run(["call", "--config", two, "math.add", "1", "2"])
        #expect(t.status == 78)
        #expect(t.stderr.hasPrefix("zerotask: \(two):3: not valid YAML: expected one document"), "\(t.stderr)")
    }
}
