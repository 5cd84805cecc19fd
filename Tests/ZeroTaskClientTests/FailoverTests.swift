#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskClient
import ZeroTaskTestSupport

/// Two real `zerotask broker` processes on loopback; a real node and clients given both
/// (`tcp://a,tcp://b`). The first broker is killed with SIGKILL: the client and the node fail
/// over to the second and carry on there.
@Suite(.serialized) struct FailoverTests {
    struct Broker {
        let request: String
        let publish: String
        let process: ChildProcess
    }

    static let context = ZMQContext()

    /// Polls `condition` every 50 ms for up to `seconds`, sleeping as a Swift task: these tests
    /// run beside others on a small cooperative pool, which a blocking poll would hold up.
    static func until(_ seconds: Double, _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try condition()
    }

    /// A memory broker on free ports, once it answers.
    static func startBroker() async throws -> Broker {
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let process = try ChildProcess(Binaries.zerotask, [
            "broker", "--store", "memory", "--request", request, "--publish", publish, "--http", "off",
        ])
        let answered = try await until(30) {
            guard process.isRunning else { return true }
            let peer = try TestPeer(endpoint: request, context: context)
            return (try? peer.call("stats").outcome.get()) != nil
        }
        guard answered, process.isRunning else {
            process.stop()
            throw TestNode.NodeError("broker did not start on \(request):\n\(process.output)")
        }
        return Broker(request: request, publish: publish, process: process)
    }

    /// Whether the broker at `request` lists `method` as served by a node.
    static func serves(_ request: String, _ method: String) -> Bool {
        guard let peer = try? TestPeer(endpoint: request, context: context),
            let list = try? peer.call("methods").outcome.get().arrayValue
        else { return false }
        return list.contains { $0["name"] == .string(method) && ($0["nodes"]?.arrayValue?.isEmpty == false) }
    }

    @Test func aClientAndANodeWithBothBrokersCarryOnOnTheSecondWhenTheFirstIsKilled() async throws {
        let a = try await Self.startBroker()
        let b = try await Self.startBroker()
        defer { a.process.stop(); b.process.stop() }
        // The node's list from its configuration file, as a YAML list.
        let dir = FixturePlugins.temporaryDirectory("zt-failover-node")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "node:\n  broker: [\(a.request), \(b.request)]\n".write(toFile: dir + "/zerotask.yaml", atomically: true, encoding: .utf8)
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--config", dir + "/zerotask.yaml", "--plugins", try RealNode.plugins.get(),
            "--workers", "1", "--http", "off", "--heartbeat-interval", "1", "--node-id", "fo-node",
        ])
        defer { node.stop() }
        #expect(await Self.until(60) { Self.serves(a.request, "math.add") }, "the node registers with the first broker")

        let client = try await ZeroTaskClient(request: "\(a.request), \(b.request)", requestTimeout: .seconds(2))
        #expect(client.brokers.endpoints == [a.request, b.request])
        #expect(client.requestEndpoint == a.request)
        #expect(try await client.call("math.add", .positional([2, 3])) == 5)
        let early = try await client.submit("math.add", .positional([1, 1]))
        #expect(try await early.wait(timeout: .seconds(30)) == 2)
        // With a failover list every submission names its task, so a resend is the same task.
        #expect(early.id.hasPrefix(client.clientID + "-f"))

        let killed = Date()
        a.process.signal(SIGKILL)
        #expect(a.process.waitForExit(seconds: 10) != nil)

        // Sent to the dead broker, unanswered, failed over and resent to b with its task id.
        let late = try await client.submit("math.mul", .positional([6, 7]))
        #expect(client.requestEndpoint == b.request)
        #expect(late.id.hasPrefix(client.clientID + "-f"))
        let status = try await late.status()
        #expect([.queued, .assigned, .running, .finished].contains(status))
        // The node fails over too, registers at b and runs what b holds.
        #expect(await Self.until(60) { Self.serves(b.request, "math.mul") }, "the node moved to the second broker:\n\(node.output)")
        // For the record (not checked): how long from the kill until b lists the node.
        print("failover: the node serves at the second broker \(String(format: "%.2f", Date().timeIntervalSince(killed))) s after the first was killed")
        #expect(try await late.wait(timeout: .seconds(60)) == 42)
        #expect(try await client.call("math.add", .positional([40, 2]), timeout: .seconds(60)) == 42)
        let batch = try await client.submitBatch([TaskSpec("math.sub", .positional([5, 3])), TaskSpec("math.add", .positional([5, 3]))])
        var results: [JSONValue] = []
        for entry in batch { results.append(try await entry.get().wait(timeout: .seconds(60))) }
        #expect(results == [2, 8])
        await client.close()
        #expect(node.isRunning)
    }

    @Test func aCallAndAWaitParkedAtTheKilledBrokerResumeOnTheNext() async throws {
        let a = try await Self.startBroker()
        let b = try await Self.startBroker()
        defer { a.process.stop(); b.process.stop() }
        let nodeA = try TestNode(broker: a.request, nodeID: "fo-a")
        let nodeB = try TestNode(broker: b.request, nodeID: "fo-b")
        defer { nodeA.stop(); nodeB.stop() }
        // As with a shared store: b already knows task w1 (the same client, id and spec), and
        // has finished it.
        let direct = try await ZeroTaskClient(request: b.request, clientID: "fo-w", requestTimeout: .seconds(2))
        let known = try await direct.submit("sleep", .positional([2]), options: TaskOptions(taskID: "w1"))
        #expect(try await known.wait(timeout: .seconds(30)) == 2.0)
        await direct.close()

        let client = try await ZeroTaskClient(request: "\(a.request),\(b.request)", clientID: "fo-w", requestTimeout: .seconds(1))
        #expect(client.requestEndpoint == a.request)
        let handle = try await client.submit("sleep", .positional([2]), options: TaskOptions(taskID: "w1"))
        #expect(handle.id == "fo-w-w1")
        // Their long polls would be noticed unanswered only at their deadline (25 s and the
        // request timeout); the dropped connection tells at once, well within 20 s.
        let waiting = Task { try await handle.wait(timeout: .seconds(20)) }
        let calling = Task { try await client.call("sleep", .positional([1.5]), timeout: .seconds(20)) }
        // Both are parked at a (its node sleeps) when a dies.
        #expect(await Self.until(20) {
            let nodes = try? TestPeer(endpoint: a.request, context: Self.context).call("nodes").outcome.get().arrayValue
            return (nodes ?? []).reduce(0) { $0 + ($1["assigned"]?.int64Value ?? 0) } >= 1
        })
        a.process.signal(SIGKILL)
        #expect(a.process.waitForExit(seconds: 10) != nil)
        // The connection to a drops: what was parked there is sent again to b.
        #expect(try await waiting.value == 2.0, "the wait resumed on b, which knows w1")
        #expect(try await calling.value == 1.5, "the call was sent again to b with its task id and ran there")
        #expect(client.requestEndpoint == b.request)
        await client.close()
    }

    @Test func aClientWhoseFirstBrokerIsDeadConnectsToTheNext() async throws {
        let b = try await Self.startBroker()
        defer { b.process.stop() }
        let dead = try unusedEndpoint()
        let client = try await ZeroTaskClient(request: "\(dead),\(b.request)", requestTimeout: .seconds(1))
        #expect(client.requestEndpoint == b.request)
        #expect(try await client.submit("math.add", .positional([1, 2])).status() == .queued)
        await client.close()
        // All of them dead: unreachable, naming the list.
        let other = try unusedEndpoint()
        do {
            _ = try await ZeroTaskClient(request: "\(dead),\(other)", requestTimeout: .milliseconds(300))
            Issue.record("connected to no broker")
        } catch ZeroTaskClientError.brokerUnreachable(let endpoint, _) {
            #expect(endpoint == "\(dead),\(other)")
        }
        // A malformed entry is named.
        do {
            _ = try await ZeroTaskClient(request: "\(b.request),127.0.0.1:5555")
            Issue.record("accepted an entry with no transport")
        } catch ZeroTaskClientError.invalidArgument(let why) {
            #expect(why.contains("broker endpoint 2 \"127.0.0.1:5555\" has no transport"))
        }
    }

    @Test func theCLIWithADeadFirstBrokerUsesTheNextAndNamesAMalformedEntry() async throws {
        let b = try await Self.startBroker()
        defer { b.process.stop() }
        let node = try RealNode(request: b.request, publish: b.publish, waitingFor: "math.add")
        defer { node.stop() }
        let cli = try CLIRunner()
        let dead = try unusedEndpoint()
        let call = try await cli.run(["call", "--broker", "\(dead),\(b.request)", "--timeout", "1", "math.add", "2", "3"])
        #expect(call.status == 0 && call.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "5", "\(call.stderr)")
        // ZEROTASK_BROKER takes the same list.
        let methods = try await cli.run(["methods", "--timeout", "1"], environment: ["ZEROTASK_BROKER": "\(dead),\(b.request)"])
        #expect(methods.status == 0 && methods.stdout.contains("math.add"), "\(methods.stderr)")
        // The configuration's client.broker as a YAML list.
        let dir = FixturePlugins.temporaryDirectory("zt-failover-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/zerotask.yaml"
        try "client:\n  broker:\n    - \(dead)\n    - \(b.request)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let configured = try await cli.run(["call", "--config", file, "--timeout", "1", "math.add", "1", "1"])
        #expect(configured.status == 0 && configured.stdout.contains("2"), "\(configured.stderr)")
        let bad = try await cli.run(["call", "--broker", "\(b.request),tcp://host", "math.add", "1", "1"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--broker") && bad.stderr.contains("broker endpoint 2 \"tcp://host\" has no port"), "\(bad.stderr)")
        let badNode = try await cli.run(["node", "--broker", "tcp://127.0.0.1:1,udp://x:1", "--plugins", dir], limit: 30)
        #expect(badNode.status != 0)
        #expect(badNode.stderr.contains("broker endpoint 2 \"udp://x:1\""), "\(badNode.stderr)")
    }
}
