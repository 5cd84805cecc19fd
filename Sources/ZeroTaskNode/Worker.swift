import ZeroTaskProtocol

/// A task handed to this node by the broker.
struct Assignment: Sendable {
    var id: String
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
final class Worker {
    enum State {
        /// Started, loading plugins; not ready for tasks.
        case starting
        case idle
        case busy(RunningTask)
        /// Told to exit (recycled, old generation, shutting down).
        case exiting
    }

    struct RunningTask {
        var assignment: Assignment
        var deadline: Double
        var timeoutSeconds: Double
        var startedAt: Double
        /// Set when the task was cancelled: the worker is killed if still busy by then.
        var killAt: Double?
    }

    let id: Int
    let process: WorkerProcess
    let generation: Int
    var state = State.starting
    var tasksRun = 0
    var residentBytes = 0
    var stdoutLines = LineBuffer()
    var stderrLines = LineBuffer()
    var stdoutOpen = true
    var stderrOpen = true
    let startedAt: Double

    init(id: Int, process: WorkerProcess, generation: Int, startedAt: Double) {
        self.id = id
        self.process = process
        self.generation = generation
        self.startedAt = startedAt
    }

    var task: RunningTask? {
        if case .busy(let t) = state { t } else { nil }
    }

    var isIdle: Bool {
        if case .idle = state { true } else { false }
    }
}
