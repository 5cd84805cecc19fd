import Testing
@testable import ZeroTaskBroker

/// Metrics hear of a loop turn's transitions at once: the batch collects them per method and
/// hands them over in one `record` on `flush`; an observer without a batch form gets them
/// replayed one by one.
@Suite struct TaskObserverBatchTests {
    /// Records every call, single or batched.
    final class Log: TaskObserver, @unchecked Sendable {
        var lines: [String] = []
        var batches: [TaskObservations] = []
        var batched = false
        func taskSubmitted(method: String) { lines.append("submitted \(method)") }
        func taskStarted(method: String, queueWait: Double?) { lines.append("started \(method) \(queueWait.map { "\($0)" } ?? "-")") }
        func taskRetried(method: String) { lines.append("retried \(method)") }
        func taskCompleted(method: String, outcome: TaskOutcome, runSeconds: Double?) {
            lines.append("\(outcome) \(method) \(runSeconds.map { "\($0)" } ?? "-")")
        }
        func storeCommitted(seconds: Double) { lines.append("commit \(seconds)") }
        func record(_ observations: TaskObservations) {
            if batched { batches.append(observations) } else { observations.replay(to: self) }
        }
    }

    @Test func aTurnsTransitionsArriveInOneRecordPerFlush() {
        let log = Log()
        log.batched = true
        let batch = TaskObserverBatch(log)
        batch.taskSubmitted(method: "a")
        batch.taskSubmitted(method: "a")
        batch.taskStarted(method: "a", queueWait: 0.5)
        batch.taskStarted(method: "a", queueWait: nil)
        batch.taskCompleted(method: "a", outcome: .succeeded, runSeconds: 2)
        batch.taskCompleted(method: "b", outcome: .cancelled, runSeconds: nil)
        batch.taskRetried(method: "b")
        #expect(log.batches.isEmpty)  // nothing before the turn ends
        batch.flush()
        var a = TaskObservations.Counts()
        a.submitted = 2
        a.started = 2
        a.succeeded = 1
        a.queueWaits = [0.5]
        a.runs = [2]
        var b = TaskObservations.Counts()
        b.cancelled = 1
        b.retried = 1
        #expect(log.batches.count == 1)
        #expect(log.batches.first?.byMethod == ["a": a, "b": b])
        // An empty turn records nothing; the next turn starts from zero.
        batch.flush()
        #expect(log.batches.count == 1)
        batch.taskSubmitted(method: "a")
        batch.flush()
        #expect(log.batches.last?.byMethod["a"]?.submitted == 1 && log.batches.last?.byMethod.count == 1)
        // Commits come from the store writer's thread: straight through, never held.
        batch.storeCommitted(seconds: 0.25)
        #expect(log.lines == ["commit 0.25"])
    }

    @Test func interleavedMethodsEachKeepTheirOwnCounts() {
        let log = Log()
        log.batched = true
        let batch = TaskObserverBatch(log)
        // New methods arriving between others move the dictionary's storage.
        let order = ["a", "b", "a"] + (0..<40).map { "m\($0)" } + ["a", "b", "a"]
        for m in order { batch.taskSubmitted(method: m) }
        batch.flush()
        let counts = log.batches.first?.byMethod.mapValues(\.submitted)
        #expect(counts?["a"] == 4 && counts?["b"] == 2 && counts?["m39"] == 1 && counts?.count == 42)
    }

    @Test func anObserverWithoutABatchFormHearsEachTransition() {
        let log = Log()
        let batch = TaskObserverBatch(log)
        batch.taskSubmitted(method: "a")
        batch.taskStarted(method: "a", queueWait: 0.5)
        batch.taskCompleted(method: "a", outcome: .failed, runSeconds: 1)
        batch.flush()
        #expect(log.lines == ["submitted a", "started a 0.5", "failed a 1.0"])
    }
}
