import Testing
import ZeroTaskProtocol
@testable import ZeroTaskBroker

/// What `/health` reports, from the broker's snapshots and its store's writes.
@Suite struct BrokerMonitorTests {
    /// A store whose writes fail while `failing` is set: the failure is what the test is about.
    final class FlakyStore: TaskStore {
        var failing = false
        var description: String { "flaky" }
        var isDurable: Bool { true }
        func load() throws(StoreError) -> StoreContents { StoreContents() }
        func write(_ changes: StoreChanges) throws(StoreError) {
            if failing { throw StoreError(store: "flaky", reason: "disk full") }
        }
        func close() {}
    }

    @Test func healthyOnlyWhileSnapshotsAreFreshAndTheStoreWrites() throws {
        let monitor = BrokerMonitor(interval: 0.5)
        #expect(monitor.health(now: 10) == .unhealthy("the broker has not started"))
        monitor.publish(BrokerSnapshot(takenAt: 10))
        #expect(monitor.health(now: 12) == .healthy)
        guard case .unhealthy(let stale) = monitor.health(now: 16) else { Issue.record("a stale snapshot is healthy"); return }
        #expect(stale.contains("has not answered for 6 s"))

        let base = FlakyStore()
        let store = ObservedTaskStore(base, monitor: monitor)
        base.failing = true
        #expect(throws: StoreError.self) { try store.write(StoreChanges()) }
        guard case .unhealthy(let why) = monitor.health(now: 12) else { Issue.record("a failing store is healthy"); return }
        #expect(why.contains("the store cannot write") && why.contains("disk full"))
        base.failing = false
        try store.write(StoreChanges())
        #expect(monitor.health(now: 12) == .healthy)
    }

    @Test func theSnapshotCountsQueuedAndRunningTasksByMethodAndBusyWorkersByNode() {
        var h = BrokerStateTests.Harness()
        h.setUp(methods: ["work", "other"], workers: 2)
        for name in ["a", "b", "c"] { h.submit(name) }
        h.submit("d", method: "other")
        #expect(BrokerStateTests.Harness.ids(h.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N")) == ["alice-a", "alice-b"])
        h.now = 3
        let s = h.state.snapshot(now: 4)
        #expect(s.takenAt == 4)
        #expect(s.methods == ["work": .init(queued: 1, running: 2), "other": .init(queued: 1, running: 0)])
        #expect(s.nodes == [.init(id: "n1", workers: 2, busy: 2, silentSeconds: 4)])
    }

    /// The observer hears each transition the state machine makes, with the method.
    @Test func theObserverHearsSubmitStartRetryAndCompletion() {
        final class Log: TaskObserver, @unchecked Sendable {
            var lines: [String] = []
            func taskSubmitted(method: String) { lines.append("submitted \(method)") }
            func taskStarted(method: String, queueWait: Double?) { lines.append("started \(method) \(queueWait.map { "\($0)" } ?? "-")") }
            func taskRetried(method: String) { lines.append("retried \(method)") }
            func taskCompleted(method: String, outcome: TaskOutcome, runSeconds: Double?) {
                lines.append("\(outcome) \(method) \(runSeconds.map { "\($0)" } ?? "-")")
            }
            func storeCommitted(seconds: Double) {}
        }
        let log = Log()
        var h = BrokerStateTests.Harness()
        h.state.observer = log
        h.setUp(workers: 1)
        h.submit("a", maxRetries: 1)
        h.submit("b")
        _ = h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        let crashed = RPCError(code: -32061, message: "worker crashed")
        h.value(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .failure(crashed))), peer: "N")
        _ = h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(1))), peer: "N")
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-b"), peer: "C") == true)
        #expect(log.lines == [
            "submitted work", "submitted work", "started work 0.0", "retried work", "started work -",
            "succeeded work 0.0", "cancelled work -",
        ])
    }
}
