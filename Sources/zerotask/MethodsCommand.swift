import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask methods`: every method the broker knows, with signature, nodes and queue.
struct MethodsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "methods", abstract: "List the methods nodes serve: signature, nodes, queued and running tasks.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let methods = try await connection.withClient(stableID: false) { client in try await client.methods() }
        if output.json {
            say(JSONValue.array(methods.map(\.json)).jsonString)
            return
        }
        guard !methods.isEmpty else {
            say("no methods: no node is connected (start one with: zerotask node --broker builtin)")
            return
        }
        var table = TextTable(["METHOD", "SIGNATURE", "NODES", "QUEUED", "RUNNING", "LIMITS", "DOC"], numeric: [2, 3, 4])
        for m in methods {
            if m.servesAny {
                // Seed nodes: one row for all they may serve, with those only presumed dead.
                let silent = m.silentNodes.isEmpty ? "" : " (+\(m.silentNodes.count) silent: \(m.silentNodes.joined(separator: ", ")))"
                table.add(["any (seed node)", "?", String(m.nodes.count), "", String(m.running), "",
                    "nodes registered without a methods list" + silent])
            } else {
                // A method only quarantined plugins provide says why instead of a doc.
                let reason = m.json["unavailable"]?.arrayValue?.first?["reason"]?.stringValue.map { "UNAVAILABLE (quarantined: \($0))" }
                table.add([m.name, m.signature, String(m.nodes.count), String(m.queued), String(m.running), Self.limits(m.json),
                    reason ?? m.doc ?? ""])
            }
        }
        say(table.rendered)
    }

    /// `max 4, 100/s, PAUSED`: the limits in force and whether an admin paused the method.
    static func limits(_ m: JSONValue) -> String {
        var parts: [String] = []
        if let c = m["concurrency"]?.int64Value { parts.append("max \(c)") }
        if let r = m["rate"] {
            parts.append(r.stringValue ?? r["limit"]?.stringValue.map { "\($0) burst \(r["burst"]?.int64Value ?? 1)" } ?? "")
        }
        if m["paused"]?.boolValue == true { parts.append("PAUSED") }
        return parts.joined(separator: ", ")
    }
}
