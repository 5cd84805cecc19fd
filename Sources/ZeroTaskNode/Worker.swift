import ZeroTaskProtocol

/// A task handed to this node by the broker.
struct Assignment: Sendable {
    var id: String
    /// When the node received it, to hand back what waits too long.
    var receivedAt = MonotonicInstant(seconds: 0)
    var method: String
    var params: JSONValue
    /// The client's timeout, when it gave one.
    var timeout: Double?

    init?(_ json: JSONValue) {
        guard case .string(let id)? = json["id"], case .string(let method)? = json["method"] else { return nil }
        self.id = id
        self.method = method
        params = json["params"] ?? .array([])
        timeout = json["timeout"]?.doubleValue
    }
}

/// What the node asks for when it wants a worker: the decisions say which, the loop starts it.
///
/// A value, so that what a worker is started for (its plugin generation, its sandbox profile)
/// travels with the request and is kept in the worker's record.
struct WorkerSpec: Sendable, Equatable {
    /// The node's number for the worker (not its pid).
    var id: Int
    /// Which copy of the plugins folder it loads.
    var generation: Int
    /// The sandbox limits it applies to itself at start, for good: it serves this profile's
    /// methods only.
    var profile: SandboxProfile
}

/// The state machine's view of one worker process: what it runs and holds, no descriptors.
///
/// A worker runs one task at a time, in the order it receives them. For methods that take
/// well under a millisecond the node may queue a few more behind the running one (`queue`),
/// so the worker never waits for a round trip between tasks; a task's deadline starts when it
/// reaches the head of the queue, that is, when the worker starts it.
final class Worker {
    enum State {
        /// Started, loading plugins; not ready for tasks.
        case starting
        case ready
        /// Told to exit (recycled, old generation, shutting down): it finishes its queue first.
        case exiting
    }

    struct QueuedTask {
        var assignment: Assignment
        var timeoutSeconds: Double
        /// When the worker started it (it reached the head of the queue).
        var startedAt: MonotonicInstant?
        var deadline: MonotonicInstant { (startedAt ?? .distantFuture) + timeoutSeconds }
        /// The broker heard it is RUNNING (only said for tasks that last).
        var announced = false
        /// Cancelled: the worker skips it, or is killed at `killAt` if it runs on.
        var cancelled = false
        var killAt: MonotonicInstant?
        /// The broker says this node no longer holds it (it runs elsewhere): stop it and report
        /// nothing, since whatever this node says about it is not the task's outcome.
        var abandoned = false
        /// Sent to the worker again after it skipped this copy for an older copy's cancel.
        var resent = false
    }

    let spec: WorkerSpec
    var id: Int { spec.id }
    var generation: Int { spec.generation }
    var profile: SandboxProfile { spec.profile }
    var state = State.starting
    /// Sent to the worker, in order; the first one is running.
    var queue: [QueuedTask] = []
    /// The tasks `schedule` gave it in this turn, written to it in one go at the turn's end.
    var unsent: [WorkerMessage] = []
    var tasksRun = 0
    var residentBytes = 0
    let startedAt: MonotonicInstant

    init(spec: WorkerSpec, startedAt: MonotonicInstant) {
        self.spec = spec
        self.startedAt = startedAt
    }

    /// The running task.
    var task: QueuedTask? { queue.first }

    var isReady: Bool {
        if case .ready = state { true } else { false }
    }

    var isIdle: Bool { isReady && queue.isEmpty }

    var isExiting: Bool {
        if case .exiting = state { true } else { false }
    }
}
