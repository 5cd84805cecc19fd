import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `--delay`, `--not-before`, `--max-attempts` and `--retry-backoff` of `zerotask submit` and
/// `call`, and how `status` and `tasks` show a delayed task: the real binary against a real broker.
@Suite struct CLIDelayRetryTests {
    let cli: CLIRunner

    init() throws { cli = try CLIRunner() }

    @Test func aDelayedSubmissionShowsAsQueuedWithItsTimeAndCarriesItsRetryPolicy() async throws {
        let broker = try TestBroker()
        let submitted = try await cli.run([
            "submit", "--broker", broker.request, "--client-id", "cli-delay", "--delay", "600", "--max-attempts", "4",
            "--retry-backoff", "0.5", "some.method", "1",
        ])
        #expect(submitted.status == 0, "stderr: \(submitted.stderr)")
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let status = try await cli.run(["status", "--broker", broker.request, "--client-id", "cli-delay", id])
        #expect(status.stdout.contains("state       queued"), "\(status.stdout)")
        #expect(status.stdout.contains("not before") && status.stdout.contains("(waiting)"), "\(status.stdout)")
        let json = try await cli.run(["status", "--broker", broker.request, "--client-id", "cli-delay", "--json", id])
        let info = try JSONValue.parse(Array(json.stdout.utf8))
        #expect(info["delayed"] == true)
        #expect(info["retry"]?["max_attempts"] == 4 && info["retry"]?["backoff"] == 0.5)
        let created = info["created"]?.doubleValue ?? 0
        #expect(abs((info["not_before"]?.doubleValue ?? 0) - created - 600) < 1e-3)
        let tasks = try await cli.run(["tasks", "--broker", broker.request, "--state", "queued"])
        #expect(tasks.stdout.contains("queued (delayed)"), "\(tasks.stdout)")
        let stats = try await cli.run(["stats", "--broker", broker.request, "--interval", "0"])
        #expect(stats.stdout.contains("queued 1 (1 delayed)") && stats.stdout.contains("retried 0"), "\(stats.stdout)")
    }

    @Test func aNotBeforeInThePastRunsAtOnceAndOneAheadWaits() async throws {
        let broker = try TestBroker()
        let node = try RealNode(broker: broker)
        defer { node.stop() }
        let past = try await cli.run(["call", "--broker", broker.request, "--not-before", "2020-01-01T00:00:00Z", "math.add", "2", "3"])
        #expect(past.status == 0 && past.stdout == "5\n", "stderr: \(past.stderr)")
        let ahead = Date().timeIntervalSince1970 + 3600
        let submitted = try await cli.run([
            "submit", "--broker", broker.request, "--client-id", "cli-nb", "--not-before", String(ahead), "math.add", "2", "3",
        ])
        let id = submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let json = try await cli.run(["status", "--broker", broker.request, "--client-id", "cli-nb", "--json", id])
        let info = try JSONValue.parse(Array(json.stdout.utf8))
        #expect(info["state"] == "queued" && info["delayed"] == true)
        #expect(abs((info["not_before"]?.doubleValue ?? 0) - ahead) < 1e-3)
    }

    @Test func badTimesExit64BeforeAnythingIsSubmitted() async throws {
        let broker = try TestBroker()
        for (args, needle) in [
            (["--delay", "5", "--not-before", "0"], "--delay or --not-before"),
            (["--not-before", "tomorrow"], "--not-before must be an ISO 8601 time"),
            (["--delay=-1"], "--delay must be a non-negative"),
            (["--max-attempts", "0"], "--max-attempts must be from 1 to 100"),
            (["--retry-backoff", "1"], "--retry-backoff needs --max-attempts"),
        ] {
            let r = try await cli.run(["submit", "--broker", broker.request, "--client-id", "cli-bad"] + args + ["m.x"])
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(needle), "\(args): \(r.stderr)")
        }
        // Past the broker's max_delay: the broker's -32602, as a usage error.
        let far = try await cli.run(["submit", "--broker", broker.request, "--client-id", "cli-bad", "--delay", "1e9", "m.x"])
        #expect(far.status != 0 && far.stderr.contains("max_delay"), "\(far.stderr)")
        #expect(try broker.peer().result("stats")["submitted_total"] == 0)
    }
}
