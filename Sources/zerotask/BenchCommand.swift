import ArgumentParser
import Foundation
import Synchronization
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

    /// What the workers found, shared under a lock.
    struct Tally: Sendable {
        var done = 0
        var ok = 0
        var wrong = 0
        var failed = 0
        var timedOut = 0
        var latencies: [Double] = []
        var examples: [String] = []
        /// An error that stops the whole run (the broker is gone).
        var fatal: ZeroTaskClientError?

        mutating func example(_ s: String) { if examples.count < 5 { examples.append(s) } }
        var errors: Int { wrong + failed + timedOut }
    }

    /// State the workers share.
    final class Shared: Sendable {
        let tally = Mutex(Tally())
        let next = Atomic<Int>(0)
    }

    func run() async throws {
        let (tally, seconds) = try await connection.withClient(stableID: false) { client in
            try await client.requireServed(method)
            return try await runTasks(client)
        }
        if let fatal = tally.fatal { throw CLIFailure(fatal, connection: connection).exit() }
        report(tally, seconds: seconds)
        if tally.errors > 0 { throw ExitCode(ExitStatus.taskFailed.rawValue) }
    }

    private func runTasks(_ client: ZeroTaskClient) async throws -> (Tally, Double) {
        let shared = Shared()
        let started = MonotonicInstant.now()
        let checkSums = method == "math.add"
        let timeout = Duration.milliseconds(Int64(waitTimeout * 1000))
        let progressTask = Task {
            var progress = ProgressReporter(total: tasks, label: "bench \(method)")
            while !Task.isCancelled {
                progress.update(done: shared.tally.withLock { $0.done }, elapsed: MonotonicInstant.now() - started)
                try? await Task.sleep(for: .milliseconds(100))
            }
            progress.update(done: shared.tally.withLock { $0.done }, elapsed: MonotonicInstant.now() - started)
            progress.finish()
        }
        // The calls run on the client's I/O thread, as a single-threaded event loop would: no
        // thread switch between a reply and the next call.
        await withTaskExecutorPreference(client.executor) {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<min(inflight, tasks) {
                    group.addTask { [method, tasks, useSubmit = submitThenWait] in
                        while shared.tally.withLock({ $0.fatal == nil }) {
                            let i = shared.next.add(1, ordering: .relaxed).oldValue
                            guard i < tasks else { return }
                            let t0 = MonotonicInstant.now()
                            let outcome: Result<JSONValue, ZeroTaskClientError>
                            do {
                                let params = Params.positional([.int(Int64(i)), .int(Int64(i) + 1)])
                                if useSubmit {
                                    let task = try await client.submit(method, params)
                                    outcome = .success(try await task.wait(timeout: timeout))
                                } else {
                                    outcome = .success(try await client.call(method, params, timeout: timeout))
                                }
                            } catch let e as ZeroTaskClientError {
                                outcome = .failure(e)
                            } catch {
                                return
                            }
                            let latency = MonotonicInstant.now() - t0
                            shared.tally.withLock { t in
                                t.done += 1
                                switch outcome {
                                case .success(let v):
                                    if checkSums && v != .int(2 * Int64(i) + 1) {
                                        t.wrong += 1
                                        t.example("wrong result for \(method)(\(i), \(i + 1)): got \(v.jsonString), expected \(2 * i + 1)")
                                    } else {
                                        t.ok += 1
                                    }
                                    t.latencies.append(latency)
                                case .failure(.taskFailed(let id, let e)):
                                    t.failed += 1
                                    t.example("task \(id) failed: \(e.message) (code \(e.code))")
                                case .failure(.timedOut(let id, let s)):
                                    t.timedOut += 1
                                    t.example("task \(id) took longer than \(SecondsText.format(s))")
                                case .failure(let e):
                                    if t.fatal == nil { t.fatal = e }
                                }
                            }
                        }
                    }
                }
            }
        }
        let seconds = MonotonicInstant.now() - started
        progressTask.cancel()
        await progressTask.value
        return (shared.tally.withLock { $0 }, seconds)
    }

    private func report(_ t: Tally, seconds: Double) {
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

