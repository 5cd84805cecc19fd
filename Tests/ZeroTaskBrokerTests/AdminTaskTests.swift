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
        h.value(.submit(clientID: "alice", Submission(method: method, params: params, taskID: name)), peer: "C")
    }

    static func fail(_ h: inout Harness, _ id: String, message: String = "boom") {
        h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .failure(RPCError(code: -32000, message: message)))), peer: "N")
    }

    /// `admin_tasks` with `query`'s filters.
    static func list(_ h: inout Harness, _ query: AdminTaskQuery = AdminTaskQuery()) -> JSONValue {
        h.value(.adminTasks(query), peer: "A")
    }

    /// `admin_retry` or `admin_cancel` of every task `query` matches, as the decoder hands a filter over (no limit).
    static func matching(_ query: AdminTaskQuery) -> BrokerCommand.AdminTargets {
        var q = query
        q.limit = Int.max
        return .matching(q)
    }

    static func ids(_ page: JSONValue) -> [String] { (page["tasks"]?.arrayValue ?? []).compactMap { $0["task_id"]?.stringValue } }

    /// a, b, c submitted; a finished, b failed ("disk full"), c queued.
    static func threeTasks() -> Harness {
        var h = Harness()
        h.setUp()
        submit(&h, "a", params: ["first"])
        submit(&h, "b", params: ["second"])
        _ = h.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: "alice-a", outcome: .success(1))), peer: "N")
        fail(&h, "alice-b", message: "disk full")
        submit(&h, "c", params: ["third"])
        return h
    }

    @Test func listsNewestFirstWithFilters() {
        var h = Self.threeTasks()
        #expect(Self.ids(Self.list(&h)) == ["alice-c", "alice-b", "alice-a"])
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(state: .failed))) == ["alice-b"])
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(state: .queued))) == ["alice-c"])
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(nodeID: "n1"))) == ["alice-b", "alice-a"])
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(text: "disk"))) == ["alice-b"], "text in the error")
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(text: "third"))) == ["alice-c"], "text in the params")
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(method: "other"))) == [])
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(clientID: "alice", since: 1_799_999_999, until: 1_800_000_001))).count == 3)
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(until: 1_800_000_000))) == [])
        let row = Self.list(&h, AdminTaskQuery(state: .failed))["tasks"]?.arrayValue?.first
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
            // The answer's next_cursor is the text a client passes back; the decoder reads it in base 36.
            let page = Self.list(&h, AdminTaskQuery(limit: 3, cursor: cursor.stringValue.flatMap { UInt64($0, radix: 36) }))
            seen += Self.ids(page)
            cursor = page["next_cursor"] ?? .null
            pages += 1
        } while cursor != .null && pages < 10
        #expect(pages == 3)
        #expect(seen == (0..<7).reversed().map { "alice-t\($0)" })
    }

    @Test func oneTaskWhole() {
        var h = Self.threeTasks()
        let b = h.value(.adminTask(taskID: "alice-b"), peer: "A")
        #expect(b["params"] == ["second"], "a failed task keeps its params")
        #expect(b["state"] == "failed" && b["attempts"] == 1 && b["node_id"] == "n1")
        #expect(b["timeline"]?.arrayValue?.compactMap { $0["event"]?.stringValue } == ["submitted", "started (attempt 1)", "failed"])
        let a = h.value(.adminTask(taskID: "alice-a"), peer: "A")
        #expect(a["result"] == 1 && a["params"] == .null)
        #expect(h.refusal(.adminTask(taskID: "nope"), peer: "A")?.code == -32020)
    }

    @Test func aFailedTaskRetriedRunsAgainWithItsParams() {
        var h = Self.threeTasks()
        let r = h.value(.adminAct(.retry, .ids(["alice-b", "alice-a", "nope"])), peer: "A")
        #expect(r["retried"] == ["alice-b"])
        #expect(r["skipped"]?.arrayValue?.compactMap { $0["task_id"]?.stringValue } == ["alice-a", "nope"])
        #expect(h.status("alice-b") == .int(TaskStatus.queued.rawValue))
        let pulled = h.value(.pull(nodeID: "n1", max: 5, wait: nil, done: []), peer: "N").arrayValue ?? []
        #expect(pulled.first { $0["id"] == "alice-b" }?["params"] == ["second"])
        h.value(.report(nodeID: "n1", .init(taskID: "alice-b", outcome: .success(2))), peer: "N")
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-b"), peer: "C") == 2)
        #expect(h.value(.adminTask(taskID: "alice-b"), peer: "A")["attempts"] == 1, "attempts count afresh")
    }

    @Test func cancelAndRetryByFilter() {
        var h = Harness()
        h.setUp(methods: ["work", "other"])
        for i in 0..<3 { Self.submit(&h, "w\(i)") }
        Self.submit(&h, "o", method: "other")
        let c = h.value(.adminAct(.cancel, Self.matching(AdminTaskQuery(method: "work"))), peer: "A")
        #expect(c["cancelled"]?.arrayValue?.count == 3)
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(state: .cancelled))).count == 3)
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(state: .queued))) == ["alice-o"])
        let r = h.value(.adminAct(.retry, Self.matching(AdminTaskQuery(state: .cancelled))), peer: "A")
        #expect(r["retried"]?.arrayValue?.count == 3)
        #expect(Self.ids(Self.list(&h, AdminTaskQuery(state: .queued))).count == 4)
        #expect(h.value(.stats, peer: "C")["queued"] == 4)
    }

    // Bad filters named, and a retry or cancel that must say what it is for, are refused by
    // the decoder: BrokerCommandDecodingTests.adminFiltersAreNamedAndEverythingMustBeSaid.

    /// Through `handle` with JSON on purpose: a caller's role is checked there, before the
    /// params are decoded (BrokerStateRoleTests).
    @Test func onlyAdminsWhenKeysAreOn() {
        var h = Self.threeTasks()
        let client = PeerIdentity(role: .client, name: "alice")
        guard case .error(let e) = h.call("admin_tasks", [:], peer: "C", caller: client) else {
            Issue.record("a client listed every task")
            return
        }
        #expect(e.code == ErrorCode.notAllowed.rawValue)
        guard case .reply(.document(let page)) = h.call("admin_tasks", [:], peer: "A", caller: PeerIdentity(role: .admin, name: "ops")) else {
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
        #expect(Self.ids(Self.list(&h)) == ["alice-c", "alice-b", "alice-a"])
        #expect(h.value(.adminTask(taskID: "alice-b"), peer: "A")["params"] == ["second"])
        #expect(h.value(.adminAct(.retry, Self.matching(AdminTaskQuery(state: .failed))), peer: "A")["retried"] == ["alice-b"])
        try store.write(h.state.takeChanges())
        #expect(try store.load().tasks.first { $0.id == "alice-b" }?.status == .queued)
    }
}
