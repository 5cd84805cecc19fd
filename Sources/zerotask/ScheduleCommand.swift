import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask schedule add|list|remove`: periodic schedules (`admin_schedule_*`; an admin key
/// when the broker has keys). Schedules of the broker's config file are listed too, and are
/// changed in that file.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Add, list and remove periodic schedules (an admin key when the broker has keys).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Add a schedule: each tick submits one task of METHOD with PARAMS.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The schedule's name (A-Z a-z 0-9 . _ -); its tasks' ids are schedule:NAME-TICK.")
        var name: String
        @Argument(help: "The method each tick calls.")
        var method: String
        @Argument(help: "The params as JSON: an array (by position) or an object (by name). [[]]")
        var params: String?
        @Option(help: "A cron expression: five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly.")
        var cron: String?
        @Option(name: .customLong("tz"), help: "The IANA time zone the cron expression is read in (Europe/Berlin). [UTC]")
        var timeZone: String?
        @Option(help: "Tick every this many seconds instead (30, or 30s, 5m, 2h, 1d).")
        var every: String?
        @Option(help: "Ticks missed while the broker was down: run_once (one task for the latest) or skip. [run_once]")
        var missed: String?
        @Option(help: "The tasks' priority (higher runs first). [0]")
        var priority: Int64?
        @Option(name: .customLong("task-timeout"), help: "The tasks' timeout in seconds. [the method's]")
        var timeout: Double?
        @Flag(help: "Replace a schedule of that name (it carries on from its latest tick).")
        var replace = false

        func validate() throws {
            if (cron == nil) == (every == nil) { throw ValidationError("give --cron EXPR (with --tz ZONE) or --every SECONDS, one of them") }
            if timeZone != nil && cron == nil { throw ValidationError("--tz applies to --cron") }
        }

        func run() async throws {
            var definition: JSONObject = ["name": .string(name), "method": .string(method)]
            if let params {
                guard let value = try? JSONValue.parse(params), Params(json: value) != nil else {
                    throw CLIFailure(.usage, "PARAMS must be a JSON array or object, like [2, 3] or {\"a\": 2}, not \(params)").exit()
                }
                definition["params"] = value
            }
            if let cron { definition["cron"] = .string(cron) }
            if let timeZone { definition["time_zone"] = .string(timeZone) }
            if let every { definition["every"] = .string(every) }
            if let missed { definition["missed"] = .string(missed) }
            if let priority { definition["priority"] = .int(priority) }
            if let timeout { definition["timeout"] = .double(timeout) }
            if replace { definition["replace"] = true }
            let added = try await connection.withClient(stableID: false) { c in try await c.scheduleAdd(definition) }
            if output.json {
                say(JSONValue.object(added).jsonString)
                return
            }
            say("schedule \(name): \(ScheduleCommand.spec(added)); next tick \(added["next_tick"]?.stringValue ?? "none")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the schedules with their next and latest ticks.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let list = try await connection.withClient(stableID: false) { c in try await c.schedules() }
            if output.json {
                say(JSONValue.array(list.map { .object($0) }).jsonString)
                return
            }
            guard !list.isEmpty else {
                say("no schedules")
                return
            }
            var table = TextTable(["NAME", "METHOD", "SPEC", "TIME ZONE", "NEXT TICK", "LAST TICK", "LAST TASK", "FROM"])
            for s in list {
                table.add([s["name"]?.stringValue ?? "", s["method"]?.stringValue ?? "", ScheduleCommand.spec(s, zone: false),
                    s["time_zone"]?.stringValue ?? "", s["next_tick"]?.stringValue ?? "", s["last_tick"]?.stringValue ?? "",
                    s["last_task_id"]?.stringValue ?? "", s["origin"]?.stringValue ?? ""])
            }
            say(table.rendered)
            for s in list { if let e = s["last_error"]?.stringValue { say("\(s["name"]?.stringValue ?? ""): \(e)") } }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a schedule added by RPC or this command; its ticks stop.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The schedule's name.")
        var name: String

        func run() async throws {
            let removed = try await connection.withClient(stableID: false) { c in try await c.scheduleRemove(name) }
            say(output.json ? JSONValue.object(removed).jsonString : "removed schedule \(name)")
        }
    }

    /// `cron "*/5 * * * *" (Europe/Berlin)` or `every 30 s`.
    static func spec(_ s: JSONObject, zone: Bool = true) -> String {
        if let cron = s["cron"]?.stringValue {
            return "cron \(cron)" + (zone ? " (\(s["time_zone"]?.stringValue ?? "UTC"))" : "")
        }
        return "every \(s["every"]?.int64Value ?? 0) s"
    }
}
