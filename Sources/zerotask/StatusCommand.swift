import ArgumentParser
import Foundation
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask status ID`: what the broker knows about a task.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show a task's state, node, attempts and times.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The task id that submit printed.")
    var id: String

    func run() async throws {
        let info = try await connection.withClient(stableID: true) { client in try await client.task(id).info() }
        if output.json {
            say(info.json.jsonString)
            return
        }
        // A seed-only broker tells no method, node, attempts or times: show what is known.
        var rows: [(String, String)] = [("task", info.taskID)]
        if !info.method.isEmpty { rows.append(("method", info.method)) }
        rows.append(("state", info.status.description))
        let seedOnly = info.json["attempts"] == nil
        if let node = info.nodeID { rows.append(("node", node)) }
        if !seedOnly { rows.append(("attempts", String(info.attempts))) }
        if info.priority != 0 { rows.append(("priority", String(info.priority))) }
        if let p = info.progress { rows.append(("progress", JSONValue.object(p).jsonString)) }
        if let tags = info.json["tags"]?.arrayValue, !tags.isEmpty {
            rows.append(("tags", tags.compactMap(\.stringValue).joined(separator: ",")))
        }
        if let w = info.json["workflow"] {
            // A workflow: its kind and size, then its tasks started so far (each has its own status).
            let size = "\(w["kind"]?.stringValue ?? "workflow") of \(w["tasks"]?.int64Value ?? 0) tasks"
            rows.append(("workflow", size + (w["callback"] == .bool(true) ? " and a callback" : "")))
            let ids = (w["task_ids"]?.arrayValue ?? []).compactMap(\.stringValue)
            if !ids.isEmpty { rows.append(("its tasks", ids.joined(separator: ", "))) }
        }
        if let t = info.created { rows.append(("created", Self.time(t))) }
        if let t = info.notBefore { rows.append(("not before", Self.time(t) + (info.delayed ? " (waiting)" : ""))) }
        if let t = info.started { rows.append(("started", Self.time(t))) }
        if let t = info.finished { rows.append(("finished", Self.time(t))) }
        if let s = info.timeout { rows.append(("timeout", SecondsText.format(s))) }
        if let e = info.error { rows.append(("error", "\(e.message) (code \(e.code))")) }
        for a in info.history {
            rows.append(("attempt \(a.attempt)", "failed on \(a.nodeID ?? "?") at \(Self.time(a.at)): \(a.error.message) (code \(a.error.code))"))
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { say(k.padding(toLength: width + 2, withPad: " ", startingAt: 0) + v) }
    }

    /// Local time with milliseconds.
    static func time(_ t: Double) -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return f.string(from: Date(timeIntervalSince1970: t))
    }
}
