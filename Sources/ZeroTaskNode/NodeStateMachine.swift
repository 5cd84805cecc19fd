import Logging
import ZeroTaskPlugins
import ZeroTaskProtocol

/// Every decision a node makes, and no I/O: the broker session (registering, pulls, results,
/// hand-backs), scheduling (which worker runs what, prefetch, pipelining, release) and
/// supervision (spawning, deadlines, cancels, crashes, recycling, drain).
///
/// The loop feeds it events — a broker reply, a notification, a worker's message or exit, a
/// tick of the clock — each with the time `now` (a `MonotonicInstant`), and executes the
/// `NodeAction`s each event returns. Tests drive it with a clock they move and no processes.
final class NodeStateMachine {
    let config: NodeConfig
    let nodeID: String
    /// The node's process id, reported in `node_status`.
    let processID: Int
    var logger: Logger
    /// Whether a broker answers in the node's own process (no silence to warn about).
    let brokerIsBuiltIn: Bool

    enum Phase { case running, draining(until: MonotonicInstant), disconnecting(until: MonotonicInstant), done }
    private(set) var phase = Phase.running

    // Workers.
    var workers: [Worker] = []
    var nextWorkerID = 1
    var startupFailures = 0
    var nextSpawnAt = MonotonicInstant(seconds: 0)
    /// The plugin generation new workers load (0: none yet).
    private(set) var generation = 0

    /// What the current generation of workers serves (from the first one ready).
    var methods: [JSONValue] = []
    var methodTimeouts: [String: Double] = [:]
    var methodsGeneration = 0
    var advertisedGeneration = 0
    /// Methods of quarantined plugins, advertised as `unavailable` with the reason.
    var unavailable: [JSONValue] = []
    /// The same for the newest generation, until its first worker is ready.
    var generationUnavailable: [JSONValue] = []
    /// Each method's sandbox profile, and the one new workers take (`NodeStateMachine+Sandbox`).
    var sandbox: SandboxProfiles

    // Broker session.
    enum RequestKind { case connect, heartbeat, pull(done: [NodeRequest.Outcome]), done([NodeRequest.Outcome]), checkTasks, advertise, disconnect, status, release }
    struct Pending { var kind: RequestKind; var deadline: MonotonicInstant; var sentAt: MonotonicInstant }
    var pending: [Int64: Pending] = [:]
    var nextRequestID: Int64 = 1
    var registered = false
    var registering = false
    var nextRegisterAt = MonotonicInstant(seconds: 0)
    var pullInFlight = false
    /// Pulls given up on (timed out, or parked at a broker we registered with again).
    var abandonedPulls = Set<Int64>()
    /// Tasks received and not yet given to a worker.
    var waiting: [Assignment] = []
    /// Outcomes not yet sent to the broker, oldest first.
    var doneBuffer: [NodeRequest.Outcome] = []
    var lastHeartbeat = MonotonicInstant(seconds: 0)
    var brokerSilentSince: MonotonicInstant?
    /// Which of `config.brokers` the node talks to (`NodeStateMachine+Failover`).
    var brokerIndex = 0
    /// Tasks the node held when it failed over: they finish, and their outcomes go to the new
    /// broker, but they are not its to confirm (`node_check_tasks` would have them cancelled).
    var orphans: Set<String> = []
    var lastStatus = MonotonicInstant(seconds: 0)
    var stats = NodeStats()
    /// How long each method's tasks take (a moving average, seconds), to decide what to queue
    /// behind a running task.
    var methodDurations: [String: Double] = [:]
    /// The same over every method: the node prefetches only while tasks are short.
    var recentDuration: Double?

    /// What the current event asks the loop to do.
    private var actions: [NodeAction] = []

    init(config: NodeConfig, nodeID: String, processID: Int, brokerIsBuiltIn: Bool, logger: Logger) {
        self.config = config
        self.nodeID = nodeID
        self.processID = processID
        self.brokerIsBuiltIn = brokerIsBuiltIn
        self.logger = logger
        sandbox = SandboxProfiles(settings: config.sandbox)
    }

    func emit(_ action: NodeAction) { actions.append(action) }

    func takeActions() -> [NodeAction] {
        defer { actions = [] }
        return actions
    }

    // MARK: Events

    /// The clock moved: deadlines, timers, the broker session, scheduling.
    func tick(now: MonotonicInstant) -> [NodeAction] {
        timers(now: now)
        schedule(now: now)
        return takeActions()
    }

    /// A reply from the broker (from one message or a batch of them).
    func brokerReplied(_ response: Response, now: MonotonicInstant) -> [NodeAction] {
        handleResponse(response, now: now)
        return takeActions()
    }

    /// The broker asks this node to cancel a task it holds (`task_cancel` notification).
    func cancelRequested(_ taskID: String, now: MonotonicInstant) -> [NodeAction] {
        cancelTask(taskID, now: now)
        return takeActions()
    }

    /// The broker asks every node for its status (`broker_node_status` notification).
    func statusRequested(now: MonotonicInstant) -> [NodeAction] {
        if registered { send(nodeStatus, .status, now: now) }
        return takeActions()
    }

    /// A message from worker `id`.
    func workerSent(_ message: WorkerMessage, worker id: Int, now: MonotonicInstant) -> [NodeAction] {
        guard let w = worker(id) else { return [] }
        switch message {
        case .ready(_, let served, let problems): workerReady(w, methods: served, problems: problems, now: now)
        case .done(let taskID, let outcome, let residentBytes): workerDone(w, taskID, outcome, residentBytes: residentBytes, now: now)
        case .progress(let taskID, let fraction, let text):
            guard let t = w.task, taskID == t.assignment.id else { break }
            notify(.taskStatus(nodeID: nodeID, taskID: t.assignment.id, status: .running, progress: fraction, message: text))
        case .log:
            // Plugin output: the loop logs it under the worker's output budget.
            break
        case .task, .cancel, .exit, .probe:
            logger.warning("worker \(w.id) sent a frame only a node or a probe sends: \(message.json)")
        }
        return takeActions()
    }

    /// The loop started (or could not start) the worker a `spawn` action asked for.
    func workerSpawned(_ id: Int, ok: Bool, now: MonotonicInstant) -> [NodeAction] {
        if ok {
            stats.workerStarts += 1
        } else {
            workers.removeAll { $0.id == id }
            nextSpawnAt = now + 1
        }
        return takeActions()
    }

    /// Worker `id`'s process ended (its channel closed), how it did; `oomKills` is how many times
    /// the kernel's OOM killer ended a process in its memory cgroup (0 without one).
    func workerExited(_ id: Int, _ how: ProcessExit, oomKills: Int, now: MonotonicInstant) -> [NodeAction] {
        guard let w = worker(id) else { return [] }
        workerEnded(w, how, oomKills: oomKills, now: now)
        return takeActions()
    }

    /// A `write` to worker `id` found its channel broken: the last `count` tasks queued on it
    /// never reached it, and wait for another worker. Its end of file follows.
    func tasksUndelivered(worker id: Int, count: Int) -> [NodeAction] {
        guard let w = worker(id), count > 0 else { return [] }
        let unsent = w.queue.suffix(count)
        w.queue.removeLast(count)
        waiting.insert(contentsOf: unsent.map(\.assignment), at: 0)
        w.state = .exiting
        return takeActions()
    }

    /// Workers start on plugin generation `number` from now on; `unavailable` lists the methods
    /// of its quarantined plugins, `limits` the sandbox limits each of its methods declares.
    /// Workers of older generations finish what they hold and exit.
    func generationActivated(_ number: Int, unavailable: [JSONValue], limits: [String: SandboxLimits], now: MonotonicInstant) -> [NodeAction] {
        generationUnavailable = unavailable
        takeProfiles(limits)
        let replacing = generation > 0
        generation = number
        if replacing {
            logger.info("plugins changed: starting worker generation \(number)")
            for w in workers where w.generation < generation && !w.isExiting { stopWorker(w) }
        }
        ensureWorkers(now: now)
        return takeActions()
    }

    /// Graceful stop: no new tasks, tasks not started go back, running ones get the drain grace.
    func drain(now: MonotonicInstant) -> [NodeAction] {
        if case .running = phase {
            logger.info("stopping: no new tasks, waiting up to \(Int(config.drainGrace)) s for \(busyCount) running")
            // Tasks not started yet go back to the broker at once (releaseStaleWaiting).
            phase = .draining(until: now + config.drainGrace)
        }
        return takeActions()
    }

    /// Stop now: running tasks are killed and go back to the broker with the disconnect.
    func hardStop(now: MonotonicInstant) -> [NodeAction] {
        switch phase {
        case .running, .draining:
            logger.info("stopping now: \(busyCount) running tasks go back to the broker")
            // A drain that ends now: the next tick hands running tasks back and disconnects.
            phase = .draining(until: now)
        default:
            break
        }
        return takeActions()
    }

    // MARK: Queries

    var isDone: Bool {
        if case .done = phase { true } else { false }
    }

    var isRunning: Bool {
        if case .running = phase { true } else { false }
    }

    var busyCount: Int { workers.count { $0.task != nil } }

    func worker(_ id: Int) -> Worker? { workers.first { $0.id == id } }

    /// The earliest deadline or cancel-kill time of a running task, for the loop's poll timeout.
    var nextTaskTimer: MonotonicInstant {
        var next = MonotonicInstant.distantFuture
        for w in workers {
            if let t = w.task { next = min(next, t.deadline, t.killAt ?? .distantFuture) }
        }
        return next
    }

    /// The generations some worker still runs (older plugin copies in use).
    var liveGenerations: Set<Int> { Set(workers.map(\.generation)) }

    // MARK: Timers

    private func timers(now: MonotonicInstant) {
        for w in workers {
            guard let t = w.task else { continue }
            if now >= t.deadline {
                fail(w, RPCError(.taskTimedOut, "task \(t.assignment.id) (\(t.assignment.method)) timed out after \(SecondsText.format(t.timeoutSeconds))",
                    data: ["timeout": .double(t.timeoutSeconds), "worker": .int(Int64(w.id))]))
            } else if let k = t.killAt, now >= k {
                fail(w, .taskCancelled(t.assignment.id))
            }
        }
        for w in workers {
            // Only tasks that last are worth a RUNNING message; short ones just finish.
            if let t = w.task, !t.announced, let started = t.startedAt, now - started >= Self.announceAfter {
                w.queue[0].announced = true
                notify(.taskStatus(nodeID: nodeID, taskID: t.assignment.id, status: .running))
            }
        }
        releaseStaleWaiting(now: now)
        for (id, p) in pending where now >= p.deadline {
            // A failover (from an earlier lost request) gave up the rest already.
            guard pending.removeValue(forKey: id) != nil else { continue }
            requestLost(id, p.kind, now: now)
        }
        warnIfBrokerSilent(now: now)
        if registered, now - lastHeartbeat >= config.heartbeatInterval {
            lastHeartbeat = now
            send(.heartbeat(nodeID: nodeID), .heartbeat, now: now)
            // Every task this node holds — waiting, queued on or run by a worker, or done and not
            // yet acknowledged: the broker confirms them, answers the ones to drop, and takes
            // back what it assigned but this node never got (a lost reply).
            send(.checkTasks(nodeID: nodeID, taskIDs: confirmableTaskIDs(), complete: true), .checkTasks, now: now)
        }
        if registered, now - lastStatus >= 5 {
            lastStatus = now
            notify(nodeStatus)
        }
        switch phase {
        case .draining(let until):
            if busyCount == 0 || now >= until { beginDisconnect(now: now) }
        case .disconnecting(let until):
            let reporting = pending.values.contains {
                switch $0.kind {
                case .done, .disconnect: true
                default: false
                }
            }
            if !reporting || now >= until { phase = .done }
        default:
            break
        }
    }

    private func beginDisconnect(now: MonotonicInstant) {
        for w in workers where w.task != nil {
            // Past the grace: the task goes back to the queue with the disconnect.
            logger.warning("task \(w.task!.assignment.id) still running at the end of the drain grace: handing it back")
            kill(w)
        }
        while !doneBuffer.isEmpty {
            let done = takeDone()
            send(.tasksDone(nodeID: nodeID, done), .done(done), now: now)
        }
        if registered {
            send(.disconnect(nodeID: nodeID), .disconnect, now: now)
        }
        phase = .disconnecting(until: now + 3)
    }

    /// `node_status`: worker counts and the node's own timings.
    var nodeStatus: NodeRequest {
        .nodeStatus(nodeID: nodeID, processID: processID, status: stats.json(workers: config.workers, busy: busyCount))
    }

    /// The ids of every task this node holds in any form.
    func heldTaskIDs() -> [String] {
        var ids = waiting.map(\.id)
        for w in workers { ids += w.queue.map(\.assignment.id) }
        ids += doneBuffer.map(\.taskID)
        for p in pending.values {
            switch p.kind {
            case .pull(let done), .done(let done): ids += done.map(\.taskID)
            default: break
            }
        }
        return ids
    }

    /// The oldest outcomes that fit in one message to the broker (at least one): a batch over the
    /// broker's `max_message_bytes` would be refused whole, and resent whole, forever.
    func takeDone() -> [NodeRequest.Outcome] {
        var bytes = 0
        var n = 0
        while n < doneBuffer.count {
            let size = doneBuffer[n].approximateSize + 1
            if n > 0 && bytes + size > config.maxBatchBytes { break }
            bytes += size
            n += 1
        }
        defer { doneBuffer.removeFirst(n) }
        return Array(doneBuffer.prefix(n))
    }

    /// Records a task's outcome for the broker.
    func report(_ taskID: String, _ outcome: Result<JSONValue, RPCError>) {
        switch outcome {
        case .success: stats.finished += 1
        case .failure(let e):
            stats.failed += 1
            if e.code == ErrorCode.taskTimedOut.rawValue { stats.timeouts += 1 }
            if e.code == ErrorCode.workerCrashed.rawValue { stats.crashes += 1 }
        }
        doneBuffer.append(NodeRequest.Outcome(taskID: taskID, outcome: outcome))
    }

    /// Adds a worker record for a `spawn` action (the loop reports whether the process started).
    func addWorker(profile: SandboxProfile, now: MonotonicInstant) {
        let spec = WorkerSpec(id: nextWorkerID, generation: generation, profile: profile)
        nextWorkerID += 1
        workers.append(Worker(spec: spec, startedAt: now))
        emit(.spawn(spec))
    }

    /// Forgets a worker whose process is gone (or is being killed).
    func forget(_ w: Worker) {
        workers.removeAll { $0 === w }
    }
}

extension NodeStateMachine.Phase {
    var isStopping: Bool {
        if case .running = self { false } else { true }
    }
}

extension NodeRequest.Outcome {
    /// About how many bytes its JSON (`{"id", "result"}` or `{"id", "error"}`) takes, as
    /// `JSONValue.approximateSize` counts, without writing it.
    var approximateSize: Int {
        let id = 2 + 4 + taskID.utf8.count + 2
        switch outcome {
        case .success(let r): return 2 + id + 6 + 4 + r.approximateSize
        case .failure(let e):
            let error = 2 + (4 + 4 + 24) + (7 + 4 + e.message.utf8.count + 2) + (e.data.map { 4 + 4 + $0.approximateSize } ?? 0)
            return 2 + id + 5 + 4 + error
        }
    }
}

extension JSONValue {
    /// About how many bytes the compact JSON takes, without writing it: strings by their UTF-8
    /// length (escapes are rare; the batch limit leaves room for them), numbers at most 24.
    var approximateSize: Int {
        switch self {
        case .null, .bool: return 5
        case .int, .uint, .double: return 24
        case .string(let s): return s.utf8.count + 2
        case .array(let a): return a.reduce(2) { $0 + $1.approximateSize + 1 }
        case .object(let o): return o.members.reduce(2) { $0 + $1.key.utf8.count + 4 + $1.value.approximateSize }
        }
    }
}
