import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// A task that crashes its worker runs again, up to max_retries, then fails with the crash.
@Suite struct BrokerStateCrashRetryTests {
    typealias Harness = BrokerStateTests.Harness

    static let crash: JSONValue = ["code": -32061, "message": "worker crashed (SIGSEGV)", "data": ["signal": "SIGSEGV"]]

    @Test func aCrashQueuesTheTaskAgainUntilItsRetriesAreSpentThenItFailsWithTheCrash() {
        var h = Harness()
        h.setUp()
        h.submit("poison", maxRetries: 2)
        for attempt in 1...3 {
            #expect(Harness.ids(h.result("node_task_pull", ["n1", 1], peer: "N")) == ["alice-poison"], "attempt \(attempt)")
            h.result("node_task_failed", ["node_id": "n1", "task_id": "alice-poison", "error": Self.crash], peer: "N")
            if attempt < 3 { #expect(h.status("alice-poison") == .int(TaskStatus.queued.rawValue)) }
        }
        #expect(h.status("alice-poison") == .int(TaskStatus.failed.rawValue))
        guard case .error(let e) = h.call("client_task_result", ["alice", "alice-poison"], peer: "C") else {
            Issue.record("no error")
            return
        }
        #expect(e.code == ErrorCode.workerCrashed.rawValue)
        #expect(e.data?["signal"] == "SIGSEGV")
        #expect(e.data?["attempts"] == 3)
        #expect(e.message.contains("3 attempts"), "\(e.message)")
        // The node's slot is free again and nothing is left to pull.
        #expect(h.state.nodes["n1"]!.assigned.isEmpty)
        #expect(Harness.ids(h.result("node_task_pull", ["n1", 1], peer: "N")) == [])
    }

    @Test func otherFailuresAndTimeoutsAreNotRetried() {
        var h = Harness()
        h.setUp()
        h.submit("slow")
        h.submit("bad")
        h.result("node_task_pull", ["n1", 2], peer: "N")
        h.result("node_task_failed", ["node_id": "n1", "task_id": "alice-slow", "error": ["code": -32060, "message": "timed out"]], peer: "N")
        h.result("node_task_failed", ["node_id": "n1", "task_id": "alice-bad", "error": ["code": 12, "message": "plugin says no"]], peer: "N")
        #expect(h.status("alice-slow") == .int(TaskStatus.failed.rawValue))
        #expect(h.status("alice-bad") == .int(TaskStatus.failed.rawValue))
    }

    @Test func aCrashThatCrashesOnceThenSucceedsFinishes() {
        var h = Harness()
        h.setUp()
        h.submit("flaky")
        h.result("node_task_pull", ["n1", 1], peer: "N")
        h.result("node_tasks_done", ["n1", [["id": "alice-flaky", "error": Self.crash]]], peer: "N")
        h.result("node_task_pull", ["n1", 1], peer: "N")
        h.result("node_tasks_done", ["n1", [["id": "alice-flaky", "result": 7]]], peer: "N")
        #expect(h.result("client_task_result", ["alice", "alice-flaky"], peer: "C") == 7)
        #expect(h.state.tasks["alice-flaky"]!.attempts == 2)
    }
}
