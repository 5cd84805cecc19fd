import Foundation
import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// `admin_tasks`, `admin_task`, `admin_retry` and `admin_cancel` on the state machine, and on a
/// real SQLite file across a broker restart: filters, newest-first paging with a cursor, a
/// failed task keeping its params and going back to its queue, cancelling by filter, the
/// admin-only role when keys are on, and bad params named.
@Suite struct AdminTaskTests {
    typealias Harness = BrokerStateTests.Harness

    static func submit(_ h: inout Harness, _ name: String, method: String = "work", params: JSONValue = [1]) {
        h.result("client_new_task", ["client_id": "alice", "method": .string(method), "params": params, "task_id": .string(name)], peer: "C")
    }

    static func fail(_ h: inout Harness, _ id: String, message: String = "boom") {
        h.result("node_task_failed", ["node_id": "n1", "task_id": .string(id), "error": ["code": -32000, "message": .string(message)]], peer: "N")
    }

    static func ids(_ page: JSONValue) -> [String] { (page["tasks"]?.arrayValue ?? []).compactMap { $0["task_id"]?.stringValue } }

    /// a, b, c submitted; a finished, b failed ("disk full"), c queued.
    static func threeTasks() -> Harness {
        var h = Harness()
        h.setUp()
        submit(&h, "a", params: ["first"])
        submit(&h, "b", params: ["second"])
        _ = h.result("node_task_pull", ["n1", 2], peer: "N")
        h.result("node_task_finished", ["node_id": "n1", "task_id": "alice-a", "result": 1], peer: "N")
        fail(&h, "alice-b", message: "disk full")
        submit(&h, "c", params: ["third"])
        return h
    }

    @Test func listsNewestFirstWithFilters() {
        var h = Self.threeTasks()
        #expect(Self.ids(h.result("admin_tasks", [:], peer: "A")) == ["alice-c", "alice-b", "alice-a"])
        #expect(Self.ids(h.result("admin_tasks", ["state": "failed"], peer: "A")) == ["alice-b"])
        #expect(Self.ids(h.result("admin_tasks", ["state": "queued"], peer: "A")) == ["alice-c"])
        #expect(Self.ids(h.result("admin_tasks", ["node_id": "n1"], peer: "A")) == ["alice-b", "alice-a"])
        #expect(Self.ids(h.result("admin_tasks", ["text": "disk"], peer: "A")) == ["alice-b"], "text in the error")
        #expect(Self.ids(h.result("admin_tasks", ["text": "third"], peer: "A")) == ["alice-c"], "text in the params")
        #expect(Self.ids(h.result("admin_tasks", ["method": "other"], peer: "A")) == [])
        #expect(Self.ids(h.result("admin_tasks", ["client_id": "alice", "since": 1_799_999_999, "until": 1_800_000_001], peer: "A")).count == 3)
        #expect(Self.ids(h.result("admin_tasks", ["until": 1_800_000_000], peer: "A")) == [])
        let row = h.result("admin_tasks", ["state": "failed"], peer: "A")["tasks"]?.arrayValue?.first
        #expect(row?["client_id"] == "alice" && row?["method"] == "work" && row?["error"]?["message"] == "disk full")
    }

    @Test func pagesWithACursorUntilTheLast() {
        var h = Harness()
        h.setUp()
        for i in 0..<7 { Self.submit(&h, "t\(i)") }
        var seen: [String] = []
        var cursor: JSONValue = .null
        var pages = 0
        repeat {
            var p: JSONObject = ["limit": 3]
            if cursor != .null { p["cursor"] = cursor }
            let page = h.result("admin_tasks", .object(p), peer: "A")
            seen += Self.ids(page)
            cursor = page["next_cursor"] ?? .null
            pages += 1
        } while cursor != .null && pages < 10
        #expect(pages == 3)
        #expect(seen == (0..<7).reversed().map { "alice-t\($0)" })
    }

    @Test func oneTaskWhole() {
        var h = Self.threeTasks()
        let b = h.result("admin_task", ["task_id": "alice-b"], peer: "A")
        #expect(b["params"] == ["second"], "a failed task keeps its params")
        #expect(b["state"] == "failed" && b["attempts"] == 1 && b["node_id"] == "n1")
        #expect(b["timeline"]?.arrayValue?.compactMap { $0["event"]?.stringValue } == ["submitted", "started (attempt 1)", "failed"])
        let a = h.result("admin_task", ["task_id": "alice-a"], peer: "A")
        #expect(a["result"] == 1 && a["params"] == .null)
        #expect(h.error("admin_task", ["task_id": "nope"], peer: "A")?.code == -32020)
    }

    @Test func aFailedTaskRetriedRunsAgainWithItsParams() {
        var h = Self.threeTasks()
        let r = h.result("admin_retry", ["task_ids": ["alice-b", "alice-a", "nope"]], peer: "A")
        #expect(r["retried"] == ["alice-b"])
        #expect(r["skipped"]?.arrayValue?.compactMap { $0["task_id"]?.stringValue } == ["alice-a", "nope"])
        #expect(h.status("alice-b") == .int(TaskStatus.queued.rawValue))
        let pulled = h.result("node_task_pull", ["n1", 5], peer: "N").arrayValue ?? []
        #expect(pulled.first { $0["id"] == "alice-b" }?["params"] == ["second"])
        h.result("node_task_finished", ["node_id": "n1", "task_id": "alice-b", "result": 2], peer: "N")
        #expect(h.result("client_task_result", ["alice", "alice-b"], peer: "C") == 2)
        #expect(h.result("admin_task", ["task_id": "alice-b"], peer: "A")["attempts"] == 1, "attempts count afresh")
    }

    @Test func cancelAndRetryByFilter() {
        var h = Harness()
        h.setUp(methods: ["work", "other"])
        for i in 0..<3 { Self.submit(&h, "w\(i)") }
        Self.submit(&h, "o", method: "other")
        let c = h.result("admin_cancel", ["method": "work"], peer: "A")
        #expect(c["cancelled"]?.arrayValue?.count == 3)
        #expect(Self.ids(h.result("admin_tasks", ["state": "cancelled"], peer: "A")).count == 3)
        #expect(Self.ids(h.result("admin_tasks", ["state": "queued"], peer: "A")) == ["alice-o"])
        let r = h.result("admin_retry", ["state": "cancelled"], peer: "A")
        #expect(r["retried"]?.arrayValue?.count == 3)
        #expect(Self.ids(h.result("admin_tasks", ["state": "queued"], peer: "A")).count == 4)
        #expect(h.result("stats", peer: "C")["queued"] == 4)
    }

    @Test func badParamsAreNamedAndEverythingMustBeSaid() {
        var h = Self.threeTasks()
        #expect(h.error("admin_tasks", ["state": "lost"], peer: "A")?.message.contains("\"state\"") == true)
        #expect(h.error("admin_tasks", ["limit": 0], peer: "A")?.message.contains("\"limit\"") == true)
        #expect(h.error("admin_tasks", ["cursor": "!!"], peer: "A")?.message.contains("\"cursor\"") == true)
        #expect(h.error("admin_retry", [:], peer: "A")?.message.contains("task_ids or at least one filter") == true)
        #expect(h.error("admin_cancel", ["task_ids": [3]], peer: "A")?.message.contains("task_ids[0]") == true)
    }

    @Test func onlyAdminsWhenKeysAreOn() {
        var h = Self.threeTasks()
        let client = PeerIdentity(role: .client, name: "alice")
        guard case .error(let e) = h.call("admin_tasks", [:], peer: "C", caller: client) else {
            Issue.record("a client listed every task")
            return
        }
        #expect(e.code == ErrorCode.notAllowed.rawValue)
        guard case .result(let page) = h.call("admin_tasks", [:], peer: "A", caller: PeerIdentity(role: .admin, name: "ops")) else {
            Issue.record("an admin was refused")
            return
        }
        #expect(Self.ids(page).count == 3)
    }

    /// History and retry survive a restart on a real SQLite file: the failed task comes back
    /// with its params, lists in the new broker, and runs again.
    @Test func historySurvivesARestartWithSQLite() throws {
        let dir = SQLiteTaskStoreTests.TempDir()
        let path = dir.path + "/store.sqlite"
        do {
            var h = Self.threeTasks()
            h.state.journaling = true
            // Everything so far is journaled once journaling is on: touch each task.
            for id in ["alice-a", "alice-b", "alice-c"] { h.state.taskChanged(id) }
            h.state.clientChanged("alice")
            let store = try SQLiteTaskStore(path: path, synchronous: .normal)
            try store.write(h.state.takeChanges())
            store.close()
        }
        let store = try SQLiteTaskStore(path: path, synchronous: .normal)
        defer { store.close() }
        var h = Harness()
        h.state.journaling = true
        h.state.restore(try store.load(), now: 1000)
        h.setUp()
        #expect(Self.ids(h.result("admin_tasks", [:], peer: "A")) == ["alice-c", "alice-b", "alice-a"])
        #expect(h.result("admin_task", ["task_id": "alice-b"], peer: "A")["params"] == ["second"])
        #expect(h.result("admin_retry", ["state": "failed"], peer: "A")["retried"] == ["alice-b"])
        try store.write(h.state.takeChanges())
        #expect(try store.load().tasks.first { $0.id == "alice-b" }?.status == .queued)
    }
}
