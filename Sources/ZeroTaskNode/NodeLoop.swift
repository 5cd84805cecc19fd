#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol

/// The node thread's work. Owned by that thread alone.
final class NodeLoop: @unchecked Sendable {
    let config: NodeConfig
    var logger: Logger
    let nodeID: String
    /// Requests to a remote broker and its notifications; nil with a built-in broker, which
    /// the loop calls directly (see `broker`).
    let dealer: ZMQSocket?
    let sub: ZMQSocket?
    let wake: WakePipe
    /// A built-in broker served by this loop's own poll and called directly (no socket, no
    /// thread between node and broker), or nil.
    let broker: EmbeddedBroker?

    var snapshot: PluginSnapshot
    var generationDir = ""
    var workers: [Worker] = []
    var nextWorkerID = 1
    var startupFailures = 0
    var nextSpawnAt = 0.0

    /// What the current generation of workers serves (from the first one ready).
    var methods: [JSONValue] = []
    var methodTimeouts: [String: Double] = [:]
    var methodsGeneration = 0
    var advertisedGeneration = 0
    /// Methods of quarantined plugins, advertised as `unavailable` with the reason.
    var unavailable: [JSONValue] = []
    /// The same for the newest generation, until its first worker is ready.
    var generationUnavailable: [JSONValue] = []
    /// A copy of the plugins folder being probed before workers load it.
    var pendingGeneration: PendingGeneration?
    /// What loading each plugin file version alone gave (keyed by file versions): each version is
    /// probed once, not once per worker or generation.
    var probeVerdicts: [String: ProbeOutcome] = [:]

    enum Phase { case running, draining(until: Double), disconnecting(until: Double), done }
    var phase = Phase.running

    // Broker session.
    enum RequestKind { case connect, heartbeat, pull(done: [JSONValue]), done([JSONValue]), checkTasks, advertise, disconnect, status, release }
    struct Pending { var kind: RequestKind; var deadline: Double; var sentAt: Double }
    var pending: [Int64: Pending] = [:]
    var nextRequestID: Int64 = 1
    var registered = false
    var registering = false
    var nextRegisterAt = 0.0
    var pullInFlight = false
    /// Pulls given up on (timed out, or parked at a broker we registered with again).
    var abandonedPulls = Set<Int64>()
    var waiting: [Assignment] = []
    var doneBuffer: [JSONValue] = []
    var lastHeartbeat = 0.0
    var lastReloadCheck = 0.0
    var brokerSilentSince: Double?
    var stats = NodeStats()
    /// What `pollOnce` waits on; nil when the set of workers changed.
    var pollCache: PollSet?
    /// How long each method's tasks take (a moving average, seconds), to decide what to queue
    /// behind a running task.
    var methodDurations: [String: Double] = [:]
    /// The same over every method: the node prefetches only while tasks are short.
    var recentDuration: Double?
    var lastStatus = 0.0
    /// Each method's sandbox profile and what the kernel offers (`NodeLoop+Sandbox`).
    var sandbox: NodeSandbox

    init(config: NodeConfig, logger: Logger, wake: WakePipe, context: ZMQContext, broker: EmbeddedBroker? = nil) throws {
        self.broker = broker
        self.config = config
        self.logger = logger
        self.wake = wake
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        let hostname = String(cString: host).filter { Identifier.isValidID(String($0)) || $0 == "-" || $0 == "." }
        nodeID = config.nodeID ?? "\(hostname.isEmpty ? "node" : hostname)-\(getpid())"
        self.logger[metadataKey: "node"] = "\(nodeID)"
        snapshot = PluginSnapshot(source: config.pluginsDir)
        sandbox = try NodeSandbox.start(config.sandbox)

        let subscriptions = [
            "{\"method\":\"zerotask.node.task_cancel\",\"params\":{\"node_id\":\(JSONValue.string(nodeID).jsonString),",
            "{\"method\":\"zerotask.node.broker_node_status\"",
        ]
        if let broker {
            broker.subscribeLocal(subscriptions)
            dealer = nil
            sub = nil
            return
        }
        let dealer = try ZMQSocket(context, .dealer)
        // A stable routing id lets the node take its place back after a reconnect.
        try dealer.setRoutingID(Array("node:\(nodeID)".utf8))
        try dealer.setReconnectInterval(100, max: 2000)
        try dealer.setLinger(milliseconds: 1000)
        try dealer.connect(config.broker)
        self.dealer = dealer
        let sub = try ZMQSocket(context, .sub)
        for prefix in subscriptions { try sub.subscribe(prefix) }
        try sub.setLinger(milliseconds: 0)
        try sub.connect(config.publishEndpoint)
        self.sub = sub
    }

    static func now() -> Double { monotonicSeconds() }

    func run() {
        let stale = PluginSnapshot.removeStale()
        if !stale.isEmpty {
            logger.info("removed \(stale.count) private plugin folder\(stale.count == 1 ? "" : "s") left behind by nodes that are gone (\(stale.prefix(3).joined(separator: ", "))\(stale.count > 3 ? ", …" : ""))")
        }
        logger.info("node starting: \(config.workers) workers, plugins from \(config.pluginsDir), broker \(config.broker)")
        logSandboxSupport()
        checkPlugins(now: Self.now())
        while true {
            if case .done = phase { break }
            pollOnce()
            let now = Self.now()
            timers(now: now)
            schedule(now: now)
        }
        abandonProbes()
        shutdownWorkers()
        sandbox.cgroups?.remove()
        snapshot.removeAll()
        dealer?.close(lingerMilliseconds: 500)
        sub?.close(lingerMilliseconds: 0)
        broker?.finish()
        logger.info("node stopped")
    }

    // MARK: Polling

    /// What `pollOnce` waits on, and where each item is in the poller.
    struct PollSet {
        var poller = ZMQPoller()
        var dealer: Int?
        var sub: Int?
        var wake = 0
        /// Worker items: (worker, which: 0 control, 1 stdout, 2 stderr).
        var handlers: [(worker: Worker, which: Int, index: Int)] = []
        /// Whether any probe's channel is readable comes in `timers`, which polls the probes.
        var probes: [Int] = []
        /// Where the built-in broker's items start.
        var broker = 0
    }

    /// The poll set, rebuilt only when a worker comes or goes or closes an output pipe.
    private func pollSet() -> PollSet {
        if let cached = pollCache { return cached }
        var set = PollSet()
        if let dealer { set.dealer = set.poller.add(dealer) }
        if let sub { set.sub = set.poller.add(sub) }
        set.wake = set.poller.add(fd: wake.readFD)
        for w in workers {
            set.handlers.append((w, 0, set.poller.add(fd: w.process.channel.fd, w.outputBlocked ? [.readable, .writable] : .readable)))
            if w.stdoutOpen { set.handlers.append((w, 1, set.poller.add(fd: w.process.stdoutFD))) }
            if w.stderrOpen { set.handlers.append((w, 2, set.poller.add(fd: w.process.stderrFD))) }
        }
        for p in pendingGeneration?.probes ?? [] { set.probes.append(set.poller.add(fd: p.fd)) }
        // The built-in broker's items come last.
        set.broker = set.probes.last.map { $0 + 1 } ?? set.handlers.last.map { $0.index + 1 } ?? set.wake + 1
        broker?.addPollItems(to: &set.poller)
        pollCache = set
        return set
    }

    private func pollOnce() {
        var set = pollSet()
        // Hold the only reference while polling, so the item array is not copied each time.
        pollCache = nil
        let ready: [ZMQPoller.Events]
        do {
            ready = try set.poller.poll(timeoutMilliseconds: pollTimeout())
        } catch {
            logger.error("poll failed: \(error)")
            return
        }
        pollCache = set
        if let i = set.dealer, ready[i].contains(.readable) { receiveFromBroker() }
        if let i = set.sub, ready[i].contains(.readable) { receiveNotifications() }
        if ready[set.wake].contains(.readable) { wakeUp() }
        for (w, which, i) in set.handlers where !ready[i].isEmpty {
            guard workers.contains(where: { $0 === w }) else { continue }
            if which == 0 && ready[i].contains(.writable) { writeToWorker(w) }
            guard ready[i].contains(.readable) else { continue }
            switch which {
            case 0: receiveFromWorker(w)
            case 1: logOutput(w, stderr: false)
            default: logOutput(w, stderr: true)
            }
        }
        if let broker {
            // What the node sent its built-in broker is served in this same turn, and the
            // answers are handled at once.
            broker.step(ready[set.broker...])
            let (replies, notifications) = broker.takeLocalMessages()
            for response in replies { handleResponse(response) }
            for body in notifications { handleNotification(body) }
        }
    }

    private func pollTimeout() -> Int {
        var next = 0.1
        let now = Self.now()
        for w in workers {
            if let t = w.task { next = min(next, t.deadline - now, (t.killAt ?? .infinity) - now) }
        }
        let ms = max(0, Int((next * 1000).rounded(.up)))
        guard let broker else { return ms }
        return broker.hasOutputReady ? 0 : broker.pollTimeout(cap: ms)
    }

    /// What `NodeService` writes to the wake pipe: drain (graceful), or stop now (cancelled).
    static let drainSignal: UInt8 = 1
    static let hardStopSignal: UInt8 = 2

    private func wakeUp() {
        let why = wake.drainLargest()
        if why >= Self.hardStopSignal {
            switch phase {
            case .running, .draining:
                logger.info("stopping now: \(busyCount) running tasks go back to the broker")
                // A drain that ends now: the next timers() hands running tasks back and disconnects.
                phase = .draining(until: Self.now())
            default:
                break
            }
        } else if why == Self.drainSignal, case .running = phase {
            logger.info("stopping: no new tasks, waiting up to \(Int(config.drainGrace)) s for \(busyCount) running")
            // Tasks not started yet go back to the broker at once (releaseStaleWaiting).
            phase = .draining(until: Self.now() + config.drainGrace)
        }
    }

    func logOutput(_ w: Worker, stderr: Bool) {
        var buffer = stderr ? w.stderrLines : w.stdoutLines
        let (lines, eof) = buffer.read(stderr ? w.process.stderrFD : w.process.stdoutFD)
        if stderr { w.stderrLines = buffer } else { w.stdoutLines = buffer }
        let now = lines.isEmpty ? 0 : Self.now()
        for line in lines {
            guard w.output.admit(line.utf8.count + 1, now: now) else { continue }
            reportSuppressedOutput(w, now: now, force: true)
            var meta: Logger.Metadata = ["worker": "\(w.id)", "stream": stderr ? "stderr" : "stdout"]
            if let t = w.task { meta["task"] = "\(t.assignment.id)" }
            logger.info("worker \(w.id): \(line.escapingControlCharacters)", metadata: meta)
        }
        if eof {
            if stderr { w.stderrOpen = false } else { w.stdoutOpen = false }
            pollCache = nil
        }
    }

    /// Says how much of a worker's output the budget kept out of the log, when it is time to.
    func reportSuppressedOutput(_ w: Worker, now: Double, force: Bool = false) {
        guard let n = w.output.takeSuppressed(now: now, force: force) else { return }
        logger.warning("worker \(w.id): suppressed \(n) bytes of plugin output (over \(OutputBudget.burst / 1024) KiB at once or \(Int(OutputBudget.rate) / 1024) KiB/s)",
                       metadata: ["worker": "\(w.id)"])
    }

    var busyCount: Int { workers.count { $0.task != nil } }

    // MARK: Timers

    private func timers(now: Double) {
        // Cancels a worker's watcher could not take at once (the worker stopped, say).
        for w in workers where w.process.urgent.hasPendingOutput { _ = try? w.process.urgent.flush() }
        for w in workers where w.output.suppressed > 0 { reportSuppressedOutput(w, now: now) }
        for w in workers {
            guard let t = w.task else { continue }
            if now >= t.deadline {
                fail(w, RPCError(.taskTimedOut, "task \(t.assignment.id) (\(t.assignment.method)) timed out after \(Self.seconds(t.timeoutSeconds))",
                    data: ["timeout": .double(t.timeoutSeconds), "worker": .int(Int64(w.id))]), now: now)
            } else if let k = t.killAt, now >= k {
                fail(w, .taskCancelled(t.assignment.id), now: now)
            }
        }
        for w in workers {
            // Only tasks that last are worth a RUNNING message; short ones just finish.
            if let t = w.task, !t.announced, let started = t.startedAt, now - started >= Self.announceAfter {
                w.queue[0].announced = true
                notify("task_status", .named(["node_id": .string(nodeID), "task_id": .string(t.assignment.id),
                    "status": .int(TaskStatus.running.rawValue)]))
            }
        }
        releaseStaleWaiting(now: now)
        for (id, p) in pending where now >= p.deadline {
            pending[id] = nil
            requestLost(id, p.kind, now: now)
        }
        warnIfBrokerSilent(now: now)
        if registered, now - lastHeartbeat >= config.heartbeatInterval {
            lastHeartbeat = now
            send("node_heartbeat", .positional([.string(nodeID)]), .heartbeat, now: now)
            // Every task this node holds — waiting, queued on or run by a worker, or done and not
            // yet acknowledged: the broker confirms them, answers the ones to drop, and takes
            // back what it assigned but this node never got (a lost reply).
            send("node_check_tasks", .named(["node_id": .string(nodeID), "task_ids": .array(heldTaskIDs().map { .string($0) }),
                "complete": true]), .checkTasks, now: now)
        }
        if registered, now - lastStatus >= 5 {
            lastStatus = now
            notify("node_status", .named(statusFields()))
        }
        pollProbes(now: now)
        checkPlugins(now: now)
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

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }

    private func beginDisconnect(now: Double) {
        for w in workers where w.task != nil {
            // Past the grace: the task goes back to the queue with the disconnect.
            logger.warning("task \(w.task!.assignment.id) still running at the end of the drain grace: handing it back")
            let exit = w.process.killAndReap()
            logger.info("worker \(w.id) stopped (\(exit))")
            remove(w)
        }
        while !doneBuffer.isEmpty {
            let done = takeDone()
            send("node_tasks_done", .positional([.string(nodeID), .array(done)]), .done(done), now: now)
        }
        if registered {
            send("node_disconnect", .positional([.string(nodeID)]), .disconnect, now: now)
        }
        phase = .disconnecting(until: now + 3)
    }

    /// `node_status` fields: worker counts and the node's own timings.
    func statusFields() -> JSONObject {
        var o = stats.json(workers: config.workers, busy: busyCount)
        o["node_id"] = .string(nodeID)
        o["pid"] = .int(Int64(getpid()))
        return o
    }

    /// The ids of every task this node holds in any form.
    func heldTaskIDs() -> [String] {
        var ids = waiting.map(\.id)
        for w in workers { ids += w.queue.map(\.assignment.id) }
        func doneIDs(_ list: [JSONValue]) -> [String] { list.compactMap { $0["id"]?.stringValue } }
        ids += doneIDs(doneBuffer)
        for p in pending.values {
            switch p.kind {
            case .pull(let done), .done(let done): ids += doneIDs(done)
            default: break
            }
        }
        return ids
    }

    /// The oldest outcomes that fit in one message to the broker (at least one): a batch over the
    /// broker's `max_message_bytes` would be refused whole, and resent whole, forever.
    func takeDone() -> [JSONValue] {
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
        var o: JSONObject = ["id": .string(taskID)]
        switch outcome {
        case .success(let r): o["result"] = r
        case .failure(let e): o["error"] = e.json
        }
        doneBuffer.append(.object(o))
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
