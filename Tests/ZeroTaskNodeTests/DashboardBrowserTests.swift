#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The dashboard in a real browser: headless Chromium (Debian's `chromium`, installed by
/// `ZEROTASK_TEST_DEPS=1 scripts/install-deps.sh`), driven over its DevTools protocol by
/// Browser/drive_dashboard.py, against a real node with a built-in broker and the example
/// plugins. The charts draw, a submitted task appears, and a task that failed (its worker was
/// killed) is retried by clicking its button and then succeeds; the node's tags and a task's
/// required tags are drawn, and a chain's page lists its steps with their states. `ZEROTASK_UPDATE_SCREENSHOT=1`
/// writes the screenshot to docs/dashboard.png (the README shows it).
@Suite(.timeLimit(.minutes(10))) struct DashboardBrowserTests {
    static let chromium = "/usr/bin/chromium"
    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Browser/drive_dashboard.py").path

    /// The node's child processes (its workers), from /proc: every thread's children.
    static func children(of pid: pid_t) -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { t in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8)) ?? "").split(separator: " ").compactMap { pid_t($0) }
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: chromium), "chromium is missing: run ZEROTASK_TEST_DEPS=1 scripts/install-deps.sh"))
    func chartsDrawTasksAppearAndAFailedTaskIsRetriedFromThePage() throws {
        let n = try BuiltInBrokerTests.BuiltInNode(plugins: [])
        try Command.run("/bin/bash", [Binaries.repositoryRoot + "/Plugins/build.sh", n.plugins])
        let http = try BrokerHTTPTests.unusedHTTP()
        // No retries: a task whose worker dies fails at once, as a task out of retries would.
        try n.start(workers: 1, waitFor: "math.add", extra: ["--http", http, "--max-retries", "0", "--tags", "gpu,eu"])

        for i in 0..<5 { #expect(try n.outcome(try n.submit("math.add", [.int(Int64(i)), 1])).get() == .int(Int64(i + 1))) }
        let submitted = try n.submit("text.upper", ["dashboard"])
        #expect(try n.outcome(submitted).get() == "DASHBOARD")
        let tagged = try n.client.result("client_new_task", ["client_id": "user", "method": "math.add", "params": [2, 2], "tags": ["gpu"]])
        #expect(try n.outcome(tagged).get() == 4)
        let chain = try n.client.result("client_new_workflow", ["client_id": "user", "kind": "chain", "tasks": [
            ["method": "math.add", "params": [1, 2]], ["method": "math.add", "params": [10]],
        ]])
        #expect(try n.outcome(chain).get() == 13)

        // A real failure: the worker running the task is killed (SIGKILL, by PID).
        let victim = try n.submit("math.sleep", [1500])
        #expect(try eventually { try n.status(victim) == .int(TaskStatus.running.rawValue) })
        let node = try #require(n.process)
        let workers = Self.children(of: node.pid)
        #expect(!workers.isEmpty, "no worker process under node \(node.pid)")
        for w in workers { kill(w, SIGKILL) }
        guard case .failure(let e) = try n.outcome(victim) else {
            Issue.record("the task survived its worker")
            return
        }
        #expect(e.code == ErrorCode.workerCrashed.rawValue, "\(e)")

        let update = ProcessInfo.processInfo.environment["ZEROTASK_UPDATE_SCREENSHOT"] == "1"
        let shot = update ? Binaries.repositoryRoot + "/docs/dashboard.png" : FixturePlugins.temporaryDirectory("zt-shot") + "/dashboard.png"
        let browser = try ChildProcess("/usr/bin/python3", [Self.driver, Self.chromium, http, submitted.stringValue ?? "", victim.stringValue ?? "", shot,
            tagged.stringValue ?? "", chain.stringValue ?? ""])
        defer { browser.stop() }
        #expect(browser.waitForExit(seconds: 150) == 0, "\(browser.output)")
        #expect(browser.output.contains("\"ok\": true"), "\(browser.output)")

        // Retried from the page, it runs again on a fresh worker and succeeds.
        #expect(try n.outcome(victim).get() == 1500)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.count > 10_000 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "screenshot of \(png.count) bytes")
    }
}
