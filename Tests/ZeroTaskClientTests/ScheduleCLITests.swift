import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Periodic schedules through the real executable: `zerotask schedule add|list|remove` against a
/// real broker, `broker.schedules` in a config file read by `zerotask broker` (a misspelt field
/// named with its file and line), and a schedule that runs `math.add` on a real node.
@Suite struct ScheduleCLITests {
    let cli: CLIRunner
    init() throws { cli = try CLIRunner() }

    @Test func addListAndRemoveASchedule() async throws {
        let broker = try TestBroker()
        let b = ["--broker", broker.request]
        let add = try await cli.run(["schedule", "add", "reports", "report.make", "[1, \"x\"]", "--cron", "0 6 * * mon-fri", "--tz", "Europe/Berlin",
            "--missed", "skip", "--priority", "4", "--task-timeout", "30"] + b)
        #expect(add.status == 0, "\(add.stderr)")
        #expect(add.stdout.hasPrefix("schedule reports: cron 0 6 * * mon-fri (Europe/Berlin); next tick "), "\(add.stdout)")
        let every = try await cli.run(["schedule", "add", "pulse", "math.add", "[2, 3]", "--every", "5m"] + b)
        #expect(every.status == 0, "\(every.stderr)")

        let list = try await cli.run(["schedule", "list"] + b)
        #expect(list.status == 0, "\(list.stderr)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("NAME") == true && lines.first?.contains("NEXT TICK") == true, "\(list.stdout)")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("pulse") && lines[1].contains("every 300 s"), "\(list.stdout)")
        #expect(lines[2].hasPrefix("reports") && lines[2].contains("cron 0 6 * * mon-fri") && lines[2].contains("Europe/Berlin"), "\(list.stdout)")

        let json = try await cli.run(["schedule", "list", "--json"] + b)
        let listed = try JSONValue.parse(json.stdout).arrayValue ?? []
        #expect(listed.map { $0["name"] } == ["pulse", "reports"])
        let reports = listed[1]
        #expect(reports["method"] == "report.make" && reports["params"] == [1, "x"] && reports["missed"] == "skip")
        #expect(reports["priority"] == 4 && reports["timeout"]?.doubleValue == 30 && reports["origin"] == "rpc")
        #expect(reports["next_tick"]?.stringValue?.hasSuffix(":00:00Z") == true)
        #expect(reports["last_tick"] == .null && reports["last_task_id"] == .null)

        // Refusals name what is wrong; nothing is added.
        let both = try await cli.run(["schedule", "add", "x", "math.add", "--cron", "* * * * *", "--every", "5"] + b)
        #expect(both.status == 64 && both.stderr.contains("--cron EXPR (with --tz ZONE) or --every SECONDS, one of them"), "\(both.stderr)")
        let badCron = try await cli.run(["schedule", "add", "x", "math.add", "--cron", "99 * * * *"] + b)
        #expect(badCron.status == 64 && badCron.stderr.contains("minute field \"99\": 99 is outside 0-59"), "\(badCron.stderr)")
        let twice = try await cli.run(["schedule", "add", "pulse", "math.add", "--every", "5"] + b)
        #expect(twice.status == 64 && twice.stderr.contains("schedule \"pulse\" exists"), "\(twice.stderr)")
        let params = try await cli.run(["schedule", "add", "x", "math.add", "5", "--every", "5"] + b)
        #expect(params.status == 64 && params.stderr.contains("PARAMS must be a JSON array or object"), "\(params.stderr)")

        let remove = try await cli.run(["schedule", "remove", "pulse"] + b)
        #expect(remove.status == 0 && remove.stdout == "removed schedule pulse\n", "\(remove.stderr)")
        let again = try await cli.run(["schedule", "remove", "pulse"] + b)
        #expect(again.status == 64 && again.stderr.contains("no schedule \"pulse\""), "\(again.stderr)")
        let after = try await cli.run(["schedule", "list", "--json"] + b)
        #expect((try JSONValue.parse(after.stdout).arrayValue ?? []).map { $0["name"] } == ["reports"])
    }

    @Test func aMisspeltScheduleFieldIsNamedWithItsFileAndLine() async throws {
        let path = try ConfigurationTests.file("""
            broker:
              store: memory
              request: \(try unusedEndpoint())
              publish: \(try unusedEndpoint())
              schedules:
                - name: nightly
                  method: math.add
                  params: [1, 2]
                  evry: 30
            """, name: "schedules.yaml")
        let r = try await cli.run(["broker", "--config", path, "--http", "off"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("\(path):9: broker.schedules[0]: unknown key evry; did you mean every?"), "\(r.stderr)")

        let zone = try ConfigurationTests.file("""
            broker:
              store: memory
              schedules:
                - {name: a, method: math.add, every: 10}
                - name: b
                  method: math.add
                  cron: "0 6 * * *"
                  time_zone: Europe/Berln
            """, name: "zone.yaml")
        let z = try await cli.run(["broker", "--config", zone, "--http", "off"])
        #expect(z.status != 0)
        #expect(z.stderr.contains("\(zone):5: broker.schedules[1]: time zone \"Europe/Berln\" is not known"), "\(z.stderr)")
    }

    /// A config file's schedule ticking every second runs `math.add` on a real node: its tasks
    /// finish with the sum, each under its tick's id.
    @Test func aScheduleEverySecondRunsOnARealNode() async throws {
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let path = try ConfigurationTests.file("""
            broker:
              store: memory
              request: \(request)
              publish: \(publish)
              schedules:
                - name: sum
                  method: math.add
                  params: {a: 40, b: 2}
                  every: 1
            """, name: "every.yaml")
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--config", path, "--http", "off"])
        defer { broker.stop() }
        let node = try RealNode(request: request, publish: publish, waitingFor: "math.add")
        defer { node.stop() }
        let peer = try TestPeer(endpoint: request, context: ZMQContext())
        var finished: [JSONValue] = []
        let ran = eventually(60) {
            let page = try? peer.result("admin_tasks", ["client_id": "schedule:sum", "state": "finished"])
            finished = page?["tasks"]?.arrayValue ?? []
            return finished.count >= 2
        }
        #expect(ran, "broker:\n\(broker.output)\nnode:\n\(node.process.output)")
        for t in finished {
            let id = t["task_id"]?.stringValue ?? ""
            #expect(id.hasPrefix("schedule:sum-") && id.hasSuffix("Z"), "\(id)")
            #expect(try peer.result("admin_task", ["task_id": .string(id)])["result"] == 42)
        }
        let listed = try peer.result("admin_schedule_list")["schedules"]?.arrayValue ?? []
        #expect(listed.first?["origin"] == "config" && listed.first?["last_task_id"]?.stringValue?.hasPrefix("schedule:sum-") == true)
        let cli = try await cli.run(["schedule", "remove", "sum", "--broker", request])
        #expect(cli.status == 64 && cli.stderr.contains("defined in the broker's config file"), "\(cli.stderr)")
    }
}
