import ZeroTaskProtocol

/// A task handed to this node by the broker.
struct Assignment: Sendable {
    var id: String
    /// When the node received it (monotonic seconds), to hand back what waits too long.
    var receivedAt = 0.0
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

/// The node's view of one worker process.
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
        var startedAt: Double?
        var deadline: Double { (startedAt ?? .infinity) + timeoutSeconds }
        /// The broker heard it is RUNNING (only said for tasks that last).
        var announced = false
        /// Cancelled: the worker skips it, or is killed at `killAt` if it runs on.
        var cancelled = false
        var killAt: Double?
        /// The broker says this node no longer holds it (it runs elsewhere): stop it and report
        /// nothing, since whatever this node says about it is not the task's outcome.
        var abandoned = false
    }

    let id: Int
    let process: WorkerProcess
    let generation: Int
    var state = State.starting
    /// Sent to the worker, in order; the first one is running.
    var queue: [QueuedTask] = []
    /// How many tasks at the end of `queue` are queued on the channel and not yet written.
    var unsent = 0
    /// The control channel holds bytes the worker has not taken yet: poll for writable.
    var outputBlocked = false
    var tasksRun = 0
    var residentBytes = 0
    var stdoutLines = LineBuffer()
    var stderrLines = LineBuffer()
    /// How much more of its output may reach the node's log (stdout, stderr and `ctx->log`).
    var output = OutputBudget()
    var stdoutOpen = true
    var stderrOpen = true
    let startedAt: Double
    /// The sandbox limits it applied to itself at start (for good: it serves only this profile).
    let profile: SandboxProfile
    /// Its memory cgroup, when the node could make one.
    let cgroup: WorkerCgroup?

    init(id: Int, process: WorkerProcess, generation: Int, startedAt: Double, profile: SandboxProfile = .unrestricted,
         cgroup: WorkerCgroup? = nil) {
        self.id = id
        self.process = process
        self.generation = generation
        self.startedAt = startedAt
        self.profile = profile
        self.cgroup = cgroup
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
