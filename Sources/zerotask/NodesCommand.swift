import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask nodes`: the nodes connected to the broker.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "List connected nodes: workers, assigned tasks, last heartbeat, methods.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let nodes = try await connection.withClient(stableID: false) { client in try await client.nodes() }
        if output.json {
            say(JSONValue.array(nodes.map(\.json)).jsonString)
            return
        }
        guard !nodes.isEmpty else {
            say("no nodes connected (start one with: zerotask node --broker builtin)")
            return
        }
        // A TAGS column only when some node has tags (`zerotask node --tags`).
        let tags = nodes.map { n in (n.json["tags"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",") }
        let tagged = tags.contains { !$0.isEmpty }
        var table = TextTable(["NODE", "WORKERS", "ASSIGNED", "LAST SEEN"] + (tagged ? ["TAGS"] : []) + ["METHODS"], numeric: [1, 2])
        for (n, t) in zip(nodes, tags) {
            table.add([n.nodeID, n.workers == 0 ? "?" : String(n.workers), String(n.assigned),
                "\(SecondsText.format((n.lastSeen * 10).rounded() / 10)) ago"] + (tagged ? [t] : [])
                + [n.servesAny ? "any (seed node)" : n.methods.joined(separator: ", ")])
        }
        say(table.rendered)
    }
}
