import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The dashboard's page and JSON API on a real built-in node over real HTTP: the overview the
/// page polls, task lists from the SQLite store (across a restart), a task's page, and a task
/// cancelled and retried through the API that then succeeds.
@Suite(.timeLimit(.minutes(10))) struct DashboardAPITests {
    typealias Node = BuiltInBrokerTests.BuiltInNode

    static func json(_ r: HTTPProbe.Reply, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue {
        #expect(r.status == 200, "\(r.status) \(r.body)", sourceLocation: sourceLocation)
        return (try? JSONValue.parse(r.body)) ?? .null
    }

    static func ids(_ page: JSONValue) -> [String] { (page["tasks"]?.arrayValue ?? []).compactMap { $0["task_id"]?.stringValue } }

    /// The overview carries the schedules (the page's table), with each one's latest task.
    @Test func theOverviewListsSchedulesWithTheirLatestTask() throws {
        let http = try BrokerHTTPTests.unusedHTTP()
        let n = try Node()
        try n.start(workers: 1, extra: ["--http", http])
        _ = try n.client.result("admin_schedule_add", ["name": "sum", "method": "nt.add", "params": [2, 3], "every": 1])
        var listed: [JSONValue] = []
        #expect(try eventually(30) {
            listed = Self.json(try HTTPProbe.get(http + "/api/overview"))["schedules"]?["schedules"]?.arrayValue ?? []
            return listed.first?["last_task_id"]?.stringValue?.hasPrefix("schedule:sum-") == true
        }, "\(listed)")
        #expect(listed.first?["every"] == 1 && listed.first?["next_tick"]?.stringValue != nil)
        #expect(try HTTPProbe.get(http + "/dashboard.js").body.contains("fillSchedules"))
    }

    @Test func listsInspectsCancelsAndRetriesOverHTTP() throws {
        let http = try BrokerHTTPTests.unusedHTTP()
        let n = try Node()
        try n.start(workers: 1, extra: ["--http", http])

        let page = try HTTPProbe.get(http + "/")
        #expect(page.status == 200 && page.body.contains("<canvas id=\"rate\""), "\(page.body.prefix(200))")
        #expect(try HTTPProbe.get(http + "/dashboard.js").body.contains("/api/overview"))

        let ok = try n.submit("nt.add", [2, 3])
        #expect(try n.outcome(ok).get() == 5)
        // nt.hang runs past its 1 s timeout and fails.
        let hung = try n.submit("nt.hang", ["marker-123"])
        #expect(throws: RPCError.self) { try n.outcome(hung).get() }

        let overview = Self.json(try HTTPProbe.get(http + "/api/overview"))
        #expect(overview["nodes"]?.arrayValue?.first?["node_id"] == "inhouse")
        #expect(overview["methods"]?.arrayValue?.contains { $0["name"] == "nt.add" } == true)
        #expect(overview["activity"]?["succeeded"]?.arrayValue?.count == 900)
        #expect(overview["activity"]?["run"]?["count"]?.int64Value ?? 0 >= 1)

        let failed = Self.json(try HTTPProbe.get(http + "/api/tasks?state=failed"))
        #expect(Self.ids(failed) == [hung.stringValue ?? ""])
        #expect(Self.ids(Self.json(try HTTPProbe.get(http + "/api/tasks?text=marker-123"))) == [hung.stringValue ?? ""])
        let detail = Self.json(try HTTPProbe.get(http + "/api/task?id=" + (hung.stringValue ?? "")))
        #expect(detail["params"] == ["marker-123"] && detail["node_id"] == "inhouse")
        #expect(try HTTPProbe.get(http + "/api/task?id=nope").status == 404)
        #expect(try HTTPProbe.get(http + "/api/tasks?state=lost").status == 400)
        #expect(try HTTPProbe.post(http + "/api/retry", json: "[1]").status == 400)

        // One worker: nt.slow holds it, so nt.sleep waits in the queue; cancelled there, retried
        // after nt.slow is cancelled too, it runs and succeeds.
        let slow = try n.submit("nt.slow")
        #expect(try eventually { try n.status(slow) == .int(TaskStatus.running.rawValue) })
        let sleep = try n.submit("nt.sleep", [20])
        let sleepID = sleep.stringValue ?? ""
        let cancelled = Self.json(try HTTPProbe.post(http + "/api/cancel", json: #"{"task_ids":["\#(sleepID)"]}"#))
        #expect(cancelled["cancelled"] == [sleep])
        #expect(Self.ids(Self.json(try HTTPProbe.get(http + "/api/tasks?state=cancelled"))) == [sleepID])
        #expect(try n.client.result("client_cancel_task", ["user", slow]) == true)
        let retried = Self.json(try HTTPProbe.post(http + "/api/retry", json: #"{"method":"nt.sleep","state":"cancelled"}"#))
        #expect(retried["retried"] == [sleep])
        #expect(try n.outcome(sleep).get() == 20)

        // The command line over the same RPCs.
        let hungID = hung.stringValue ?? ""
        let listed = try ChildProcess(Binaries.zerotask, ["tasks", "--state", "failed", "--json", "--broker", n.request])
        #expect(listed.waitForExit(seconds: 30) == 0, "\(listed.output)")
        #expect((try? JSONValue.parse(listed.output))?.arrayValue?.compactMap { $0["task_id"]?.stringValue } == [hungID], "\(listed.output)")
        let table = try ChildProcess(Binaries.zerotask, ["tasks", "--method", "nt.add", "--broker", n.request])
        #expect(table.waitForExit(seconds: 30) == 0 && table.output.contains("finished"), "\(table.output)")
        let retry = try ChildProcess(Binaries.zerotask, ["retry", hungID, "nope", "--broker", n.request])
        #expect(retry.waitForExit(seconds: 30) == 65, "\(retry.output)")
        #expect(retry.output.contains("queued again: \(hungID)") && retry.output.contains("not retried: nope: unknown task"), "\(retry.output)")

        // The history is the store's: a restarted node lists the same tasks.
        n.process?.stop()
        try n.start(workers: 1, extra: ["--http", http])
        let all = Self.ids(Self.json(try HTTPProbe.get(http + "/api/tasks")))
        for id in [ok, hung, slow, sleep].compactMap(\.stringValue) { #expect(all.contains(id), "\(id) not in \(all)") }
    }

    /// A method's row in the overview.
    static func method(_ http: String, _ name: String) throws -> JSONValue? {
        json(try HTTPProbe.get(http + "/api/overview"))["methods"]?.arrayValue?.first { $0["name"] == .string(name) }
    }

    @Test func pausesPurgesAndResumesAQueueOverHTTPAndThePauseSurvivesARestart() throws {
        let http = try BrokerHTTPTests.unusedHTTP()
        let n = try Node()
        try n.start(workers: 1, extra: ["--http", http])
        #expect(try HTTPProbe.get(http + "/dashboard.js").body.contains("/api/queue"))
        let paused = Self.json(try HTTPProbe.post(http + "/api/queue", json: #"{"method":"nt.add","action":"pause"}"#))
        #expect(paused["paused"] == true)
        let doomed = try n.submit("nt.add", [1, 1])
        let kept = try n.submit("nt.add", [2, 3])
        // Other methods run; the paused one's tasks wait, shown as paused.
        #expect(try n.outcome(try n.submit("nt.sleep", [1])).get() == 1)
        #expect(try n.status(doomed) == .int(TaskStatus.queued.rawValue))
        #expect(try Self.method(http, "nt.add")?["paused"] == true)
        #expect(try HTTPProbe.post(http + "/api/queue", json: #"{"method":"nt.add","action":"halt"}"#).status == 400)

        // One cancelled by id; then a restart: the pause is kept in SQLite, the other task waits.
        _ = Self.json(try HTTPProbe.post(http + "/api/cancel", json: #"{"task_ids":["\#(doomed.stringValue ?? "")"]}"#))
        n.process?.stop()
        try n.start(workers: 1, extra: ["--http", http])
        #expect(try Self.method(http, "nt.add")?["paused"] == true)
        #expect(try n.status(kept) == .int(TaskStatus.queued.rawValue))

        let resumed = Self.json(try HTTPProbe.post(http + "/api/queue", json: #"{"method":"nt.add","action":"resume"}"#))
        #expect(resumed["paused"] == false)
        #expect(try n.outcome(kept).get() == 5)

        _ = Self.json(try HTTPProbe.post(http + "/api/queue", json: #"{"method":"nt.add","action":"pause"}"#))
        let purgedOne = try n.submit("nt.add", [4, 4])
        let purged = Self.json(try HTTPProbe.post(http + "/api/queue", json: #"{"method":"nt.add","action":"purge"}"#))
        #expect(purged["purged"] == 1)
        #expect(throws: RPCError.self) { try n.outcome(purgedOne).get() }
    }
}
