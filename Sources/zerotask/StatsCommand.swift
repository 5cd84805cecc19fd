import ArgumentParser
import Foundation
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask stats`: what the broker holds and does — tasks by state, queued and running per
/// method, nodes and their workers, and rates measured over a short interval.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the broker's state: tasks by state, queued and running per method, nodes, workers, rates.",
        discussion: """
            Rates (tasks submitted, finished and failed per second) come from two readings of \
            the broker's counters --interval seconds apart (0: no rates, one reading).
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("Seconds between the two readings the rates come from; 0 for none.", valueName: "S"))
    var interval: Double = 1

    func validate() throws {
        guard interval >= 0, interval.isFinite else { throw ValidationError("--interval must be 0 or a positive number of seconds") }
    }

    func run() async throws {
        let report = try await connection.withClient(stableID: false) { client in
            let first = try await client.stats()
            let start = MonotonicInstant.now()
            if interval > 0 { try await Task.sleep(for: .milliseconds(Int64(interval * 1000))) }
            // Methods and nodes are read after the wait, with the second counters: one moment.
            let methods = try await client.methods()
            let nodes = try await client.nodes()
            let second = interval > 0 ? try await client.stats() : first
            return BrokerStatsReport(first: first, second: second, seconds: MonotonicInstant.now() - start,
                methods: methods, nodes: nodes, rated: interval > 0)
        }
        say(output.json ? report.json.jsonString : report.text)
    }
}

/// One `stats` answer: the broker's counters, its methods and nodes, and rates from two readings.
struct BrokerStatsReport {
    var first: JSONObject
    var second: JSONObject
    var seconds: Double
    var methods: [MethodInfo]
    var nodes: [NodeInfo]
    var rated: Bool

    /// The counters whose rates are shown, by their name in `stats`.
    static let ratedCounters = [("submitted", "submitted_total"), ("finished", "finished_total"), ("failed", "failed_total"), ("requeued", "requeued_total"),
        ("retried", "retried_total")]

    func count(_ key: String) -> Int64 { second[key]?.int64Value ?? 0 }

    /// Per second over the interval; nil without one.
    func rate(_ counter: String) -> Double? {
        guard rated, seconds > 0 else { return nil }
        return Double((second[counter]?.int64Value ?? 0) - (first[counter]?.int64Value ?? 0)) / seconds
    }

    var workers: Int { nodes.reduce(0) { $0 + $1.workers } }
    var busy: Int { nodes.reduce(0) { $0 + $1.assigned } }
    /// Methods with something to show: served, queued or running.
    var listed: [MethodInfo] { methods.filter { !$0.servesAny } }

    var json: JSONValue {
        var o = JSONObject()
        o.append("stats", .object(second))
        o.append("methods", .array(listed.map { m in
            var e: JSONObject = ["name": .string(m.name), "queued": JSONValue(m.queued), "running": JSONValue(m.running), "nodes": JSONValue(m.nodes.count)]
            for key in ["concurrency", "rate", "paused"] { if let v = m.json[key] { e[key] = v } }
            return .object(e)
        }))
        o.append("nodes", .array(nodes.map { n in
            ["node_id": .string(n.nodeID), "workers": JSONValue(n.workers), "busy": JSONValue(n.assigned), "last_seen": .double(n.lastSeen)]
        }))
        o.append("workers", JSONValue(workers))
        o.append("workers_busy", JSONValue(busy))
        if rated {
            var rates = JSONObject()
            for (name, counter) in Self.ratedCounters { rates.append(name + "_per_second", .double(((rate(counter) ?? 0) * 1000).rounded() / 1000)) }
            rates.append("interval", .double((seconds * 1000).rounded() / 1000))
            o.append("rates", .object(rates))
        }
        return .object(o)
    }

    var text: String {
        var lines: [String] = []
        var states = ["queued", "assigned", "running", "finished", "failed"].map { "\($0) \(count($0))" }
        // Delayed tasks are queued too, held back until their not_before.
        if count("delayed") > 0 { states[0] += " (\(count("delayed")) delayed)" }
        lines.append("tasks    \(count("tasks")) held: " + states.joined(separator: ", "))
        lines.append("nodes    \(nodes.count), workers \(workers) (\(busy) busy), clients \(count("clients"))")
        lines.append("totals   " + Self.ratedCounters.map { "\($0.0) \(count($0.1))" }.joined(separator: ", "))
        if rated {
            let rates = Self.ratedCounters.map { "\($0.0) \(Self.perSecond(rate($0.1) ?? 0))" }
            lines.append("rates    " + rates.joined(separator: ", ") + " (over \(SecondsText.format((seconds * 10).rounded() / 10)))")
        }
        if !listed.isEmpty {
            // A LIMITS column only when some method is limited or paused.
            let limits = listed.map { MethodsCommand.limits($0.json) }
            let limited = limits.contains { !$0.isEmpty }
            var table = TextTable(["METHOD", "QUEUED", "RUNNING", "NODES"] + (limited ? ["LIMITS"] : []), numeric: [1, 2, 3])
            for (m, l) in zip(listed, limits) {
                table.add([m.name, String(m.queued), String(m.running), String(m.nodes.count)] + (limited ? [l] : []))
            }
            lines.append("")
            lines.append(table.rendered)
        }
        if !nodes.isEmpty {
            var table = TextTable(["NODE", "WORKERS", "BUSY", "LAST SEEN"], numeric: [1, 2])
            for n in nodes {
                table.add([n.nodeID, n.workers == 0 ? "?" : String(n.workers), String(n.assigned),
                    "\(SecondsText.format((n.lastSeen * 10).rounded() / 10)) ago"])
            }
            lines.append("")
            lines.append(table.rendered)
        }
        return lines.joined(separator: "\n")
    }

    /// `12/s`, `0.5/s`: whole numbers above ten, one decimal below.
    static func perSecond(_ r: Double) -> String {
        r >= 10 ? "\(Int(r.rounded()))/s" : String(format: "%.1f/s", r)
    }
}
