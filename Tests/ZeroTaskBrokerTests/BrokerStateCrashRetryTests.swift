import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// A task that crashes its worker runs again, up to max_retries, then fails with the crash
/// (typed commands, no JSON params).
@Suite struct BrokerStateCrashRetryTests {
    typealias Harness = BrokerStateTests.Harness

    static let crash = RPCError(code: -32061, message: "worker crashed (SIGSEGV)", data: ["signal": "SIGSEGV"])

    /// n1's report that `taskID` failed with `error`, as a typed command.
    static func failed(_ taskID: String, _ error: RPCError) -> BrokerCommand {
        .report(nodeID: "n1", .init(taskID: taskID, outcome: .failure(error)))
    }

    @Test func aCrashQueuesTheTaskAgainUntilItsRetriesAreSpentThenItFailsWithTheCrash() {
        var h = Harness()
        h.setUp()
        h.submit("poison", maxRetries: 2)
        for attempt in 1...3 {
            #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) == ["alice-poison"], "attempt \(attempt)")
            h.value(Self.failed("alice-poison", Self.crash), peer: "N")
            if attempt < 3 { #expect(h.status("alice-poison") == .int(TaskStatus.queued.rawValue)) }
        }
        #expect(h.status("alice-poison") == .int(TaskStatus.failed.rawValue))
        guard case .error(let e) = h.run(.clientTask(.result, clientID: "alice", taskID: "alice-poison"), peer: "C") else {
            Issue.record("no error")
            return
        }
        #expect(e.code == ErrorCode.workerCrashed.rawValue)
        #expect(e.data?["signal"] == "SIGSEGV")
        #expect(e.data?["attempts"] == 3)
        #expect(e.message.contains("3 attempts"), "\(e.message)")
        // The node's slot is free again and nothing is left to pull.
        #expect(h.state.nodes["n1"]!.assigned.isEmpty)
        #expect(Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) == [])
    }

    @Test func otherFailuresAndTimeoutsAreNotRetried() {
        var h = Harness()
        h.setUp()
        h.submit("slow")
        h.submit("bad")
        h.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N")
        h.value(Self.failed("alice-slow", RPCError(code: -32060, message: "timed out")), peer: "N")
        h.value(Self.failed("alice-bad", RPCError(code: 12, message: "plugin says no")), peer: "N")
        #expect(h.status("alice-slow") == .int(TaskStatus.failed.rawValue))
        #expect(h.status("alice-bad") == .int(TaskStatus.failed.rawValue))
    }

    @Test func aCrashThatCrashesOnceThenSucceedsFinishes() {
        var h = Harness()
        h.setUp()
        h.submit("flaky")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.reportMany(nodeID: "n1", [.init(taskID: "alice-flaky", outcome: .failure(Self.crash))]), peer: "N")
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.reportMany(nodeID: "n1", [.init(taskID: "alice-flaky", outcome: .success(7))]), peer: "N")
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-flaky"), peer: "C") == 7)
        #expect(h.state.tasks["alice-flaky"]!.attempts == 2)
    }
}
