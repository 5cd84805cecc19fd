import ZeroTaskProtocol

/// How a task ended, as metrics count it.
public enum TaskOutcome: Sendable, Equatable {
    case succeeded
    case failed
    /// Cancelled by its client (`client_cancel_task`), queued or running.
    case cancelled
}

/// Hears of each task's transitions as the broker's state machine makes them (for metrics).
///
/// The task methods are called on the broker's thread, in the middle of a request, so they must
/// be cheap and must not block; `storeCommitted` is called on the store writer's thread.
public protocol TaskObserver: AnyObject, Sendable {
    /// A client submitted a task.
    func taskSubmitted(method: String)
    /// A task was handed to a node; `queueWait` is the seconds from its submission to its first
    /// start (nil for a later attempt, whose wait the broker does not time).
    func taskStarted(method: String, queueWait: Double?)
    /// A task was queued again after its node was lost or its worker crashed.
    func taskRetried(method: String)
    /// A task completed; `runSeconds` is the time from its last start to its end (nil when it
    /// never started, e.g. cancelled while queued).
    func taskCompleted(method: String, outcome: TaskOutcome, runSeconds: Double?)
    /// The store wrote one group commit in `seconds`.
    func storeCommitted(seconds: Double)
    /// A loop turn's transitions at once: the broker calls this, not the methods above, when
    /// it runs in a `BrokerService` (they are batched per turn). The default replays them.
    func record(_ observations: TaskObservations)
}

extension TaskObserver {
    public func record(_ observations: TaskObservations) { observations.replay(to: self) }
}

extension TaskRecord {
    /// How it ended, for a completed task.
    var outcome: TaskOutcome {
        if status == .finished { return .succeeded }
        return error?.code == ErrorCode.taskCancelled.rawValue ? .cancelled : .failed
    }
}
