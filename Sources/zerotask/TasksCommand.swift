import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask tasks [--state S] [--method M] [--node N] [--client C] [--text T] [--limit K]`:
/// every client's tasks, newest first, from the broker's store (`admin_tasks`).
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List tasks of every client, newest first (an admin key when the broker has keys).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "queued, assigned, running, finished, failed or cancelled.")
    var state: String?
    @Option(help: "Only tasks of this method.")
    var method: String?
    @Option(help: "Only tasks that ran (or run) on this node.")
    var node: String?
    @Option(help: "Only tasks of this client.")
    var client: String?
    @Option(help: "Only tasks whose params or error contain this text.")
    var text: String?
    @Option(help: "At most this many (1…1000).")
    var limit = 50

    func run() async throws {
        var filters: JSONObject = ["limit": .int(Int64(limit))]
        for (key, value) in [("state", state), ("method", method), ("node_id", node), ("client_id", client), ("text", text)] {
            if let value { filters[key] = .string(value) }
        }
        let page = try await connection.withClient(stableID: false) { c in try await c.adminTasks(filters) }
        let tasks = page["tasks"]?.arrayValue ?? []
        if output.json {
            say(JSONValue.array(tasks).jsonString)
            return
        }
        guard !tasks.isEmpty else {
            say("no tasks match")
            return
        }
        // A TAGS column only when some task requires tags (`zerotask submit --tags`).
        let tags = tasks.map { t in (t["tags"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",") }
        let tagged = tags.contains { !$0.isEmpty }
        var table = TextTable(["TASK", "STATE", "METHOD"] + (tagged ? ["TAGS"] : []) + ["NODE", "ATTEMPTS", "ERROR"], numeric: [tagged ? 5 : 4])
        for (t, taskTags) in zip(tasks, tags) {
            // A task held back until its not_before reads "queued (delayed)".
            let state = (t["state"]?.stringValue ?? "") + (t["delayed"] == .bool(true) ? " (delayed)" : "")
            table.add([t["task_id"]?.stringValue ?? "", state, t["method"]?.stringValue ?? ""] + (tagged ? [taskTags] : []) + [
                t["node_id"]?.stringValue ?? "", t["attempts"].map { "\($0.int64Value ?? 0)" } ?? "",
                t["error"]?["message"]?.stringValue ?? "",
            ])
        }
        say(table.rendered)
        if page["next_cursor"]?.stringValue != nil { say("(more: raise --limit or narrow the filters)") }
    }
}
