/// The task transitions of one turn of the broker's loop, per method: what a `TaskObserver`
/// receives at once (`record(_:)`) instead of one call per transition, so metrics pay one
/// lookup and one counter update per method per turn rather than per task (BENCHMARKS.md,
/// "Metrics on the hot path").
public struct TaskObservations: Sendable, Equatable {
    /// One method's transitions in the turn.
    public struct Counts: Sendable, Equatable {
        public var submitted = 0
        public var started = 0
        public var retried = 0
        public var succeeded = 0
        public var failed = 0
        public var cancelled = 0
        /// Seconds from submission to first start, one per first start.
        public var queueWaits: [Double] = []
        /// Seconds from last start to end, one per completed task that started.
        public var runs: [Double] = []

        public init() {}
    }

    /// By method name.
    public var byMethod: [String: Counts] = [:]

    public init() {}

    public var isEmpty: Bool { byMethod.isEmpty }

    /// One method's transitions alone: what a single observer call amounts to, for an observer
    /// whose `record(_:)` is its one way of counting.
    public static func one(_ method: String, _ body: (inout Counts) -> Void) -> TaskObservations {
        var c = Counts()
        body(&c)
        var o = TaskObservations()
        o.byMethod[method] = c
        return o
    }

    /// Replays the transitions to `observer` one by one, per method in name order: for an
    /// observer without a batch form of its own. Order within a method is by kind, not time.
    public func replay(to observer: some TaskObserver) {
        for (method, c) in byMethod.sorted(by: { $0.key < $1.key }) {
            for _ in 0..<c.submitted { observer.taskSubmitted(method: method) }
            var waits = c.queueWaits.makeIterator()
            for _ in 0..<c.started { observer.taskStarted(method: method, queueWait: waits.next()) }
            for _ in 0..<c.retried { observer.taskRetried(method: method) }
            var runs = c.runs.makeIterator()
            for (outcome, n) in [(TaskOutcome.succeeded, c.succeeded), (.failed, c.failed), (.cancelled, c.cancelled)] {
                for _ in 0..<n { observer.taskCompleted(method: method, outcome: outcome, runSeconds: runs.next()) }
            }
        }
    }
}

/// A `TaskObserver` that collects the transitions the broker's state machine reports during a
/// loop turn and hands them to `base` in one `record(_:)` when the loop calls `flush()`.
///
/// Only the broker's thread calls its task methods and `flush()` (the state machine and its
/// loop live there), so `pending` needs no lock; `storeCommitted`, from the store writer's
/// thread, goes straight through.
final class TaskObserverBatch: TaskObserver, @unchecked Sendable {
    let base: any TaskObserver
    private var pending = TaskObservations()
    /// The method of the last transition and where its counts are: a turn mostly moves tasks of
    /// one method, and comparing its name is cheaper than hashing it (perf showed the hash and
    /// the per-call lookup as most of what metrics cost; BENCHMARKS.md).
    private var lastMethod = ""
    private var lastIndex: Dictionary<String, TaskObservations.Counts>.Index?

    init(_ base: any TaskObserver) { self.base = base }

    /// Runs `body` on `method`'s counts of this turn, made on its first transition.
    @inline(__always)
    private func counts(_ method: String, _ body: (inout TaskObservations.Counts) -> Void) {
        if let i = lastIndex, lastMethod == method {
            body(&pending.byMethod.values[i])
            return
        }
        // Adding a key moves the others: the index is taken after the insertion.
        if pending.byMethod[method] == nil { pending.byMethod[method] = .init() }
        let i = pending.byMethod.index(forKey: method)!
        lastMethod = method
        lastIndex = i
        body(&pending.byMethod.values[i])
    }

    func taskSubmitted(method: String) { counts(method) { $0.submitted += 1 } }

    func taskStarted(method: String, queueWait: Double?) {
        counts(method) { c in
            c.started += 1
            if let queueWait { c.queueWaits.append(queueWait) }
        }
    }

    func taskRetried(method: String) { counts(method) { $0.retried += 1 } }

    func taskCompleted(method: String, outcome: TaskOutcome, runSeconds: Double?) {
        counts(method) { c in
            switch outcome {
            case .succeeded: c.succeeded += 1
            case .failed: c.failed += 1
            case .cancelled: c.cancelled += 1
            }
            if let runSeconds { c.runs.append(runSeconds) }
        }
    }

    func storeCommitted(seconds: Double) { base.storeCommitted(seconds: seconds) }

    func record(_ observations: TaskObservations) { base.record(observations) }

    /// Hands the turn's transitions to `base`; nothing when there were none.
    func flush() {
        guard !pending.isEmpty else { return }
        base.record(pending)
        pending.byMethod.removeAll(keepingCapacity: true)
        lastIndex = nil
    }
}
