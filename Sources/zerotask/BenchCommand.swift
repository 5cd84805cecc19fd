import ArgumentParser
import Foundation
import Synchronization
import ZeroTaskBench
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask bench`: N tasks, K in flight, through the client library; checks every result.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run N tasks with K in flight and print jobs/s and latency percentiles.",
        discussion: """
            Task i gets params [i, i+1]; for math.add each result must be 2i+1, and a wrong one \
            counts as an error. Exit codes: 0 every task succeeded, 65 some failed or were wrong, \
            69 no broker answered or no node serves the method.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Option(help: "The method to run.")
    var method = "math.add"

    @Option(help: "How many tasks in all.")
    var tasks = 10_000

    @Option(help: "How many tasks in flight at once.")
    var inflight = 64

    @Flag(name: .customLong("submit"), help: "Submit each task and wait for it (two requests), instead of one call.")
    var submitThenWait = false

    @Option(name: .customLong("wait-timeout"), help: ArgumentHelp(
        "Seconds one task may take before it counts as an error.", valueName: "S"))
    var waitTimeout: Double = 60

    func validate() throws {
        guard tasks > 0 else { throw ValidationError("--tasks must be at least 1") }
        guard inflight > 0 else { throw ValidationError("--inflight must be at least 1") }
    }

    func run() async throws {
        let load = LoadRun(method: method, tasks: tasks, inflight: inflight, submitThenWait: submitThenWait,
            waitTimeout: .milliseconds(Int64(waitTimeout * 1000)))
        let progress = Mutex(ProgressReporter(total: tasks, label: "bench \(method)"))
        let (tally, seconds) = try await connection.withClient(stableID: false) { client in
            try await client.requireServed(method)
            return await load.run(client) { done, elapsed in progress.withLock { $0.update(done: done, elapsed: elapsed) } }
        }
        progress.withLock { $0.finish() }
        if let fatal = tally.fatal { throw CLIFailure(fatal, connection: connection).exit() }
        report(tally, seconds: seconds)
        if tally.errors > 0 { throw ExitCode(ExitStatus.taskFailed.rawValue) }
    }

    private func report(_ t: LoadRun.Tally, seconds: Double) {
        let rate = seconds > 0 ? Double(t.done) / seconds : 0
        let lat = LatencySummary(t.latencies.map { $0 * 1000 })
        if output.json {
            var o = JSONObject()
            o.append("method", .string(method))
            o.append("tasks", .int(Int64(tasks)))
            o.append("inflight", .int(Int64(inflight)))
            o.append("ok", .int(Int64(t.ok)))
            o.append("errors", .int(Int64(t.errors)))
            o.append("wrong", .int(Int64(t.wrong)))
            o.append("failed", .int(Int64(t.failed)))
            o.append("timed_out", .int(Int64(t.timedOut)))
            o.append("seconds", .double(round3(seconds)))
            o.append("jobs_per_second", .double(round3(rate)))
            if let lat {
                o.append("latency_ms", ["p50": .double(round3(lat.p50)), "p90": .double(round3(lat.p90)),
                    "p99": .double(round3(lat.p99)), "max": .double(round3(lat.max))])
            }
            say(JSONValue.object(o).jsonString)
        } else {
            let checked = method == "math.add" ? "" : " (results not checked for \(method))"
            say("\(method): \(tasks) tasks, \(inflight) in flight: \(t.ok) ok, \(t.errors) errors\(checked)")
            if t.errors > 0 {
                say("errors   \(t.wrong) wrong results, \(t.failed) failed, \(t.timedOut) timed out")
            }
            say("time     \(String(format: "%.2f", seconds)) s")
            say("rate     \(Int(rate.rounded())) jobs/s")
            if let lat {
                say("latency  p50 \(ms(lat.p50))  p90 \(ms(lat.p90))  p99 \(ms(lat.p99))  max \(ms(lat.max))")
            }
        }
        for e in t.examples { FileHandle.standardError.write(Data("zerotask: \(e)\n".utf8)) }
    }

    private func ms(_ v: Double) -> String { String(format: v < 10 ? "%.2f ms" : "%.1f ms", v) }
    private func round3(_ v: Double) -> Double { (v * 1000).rounded() / 1000 }
}

