#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskSystem

/// The node thread's work: polls the broker's sockets (or serves the built-in broker), the
/// workers' channels and output pipes and the wake-up pipe, feeds what it reads to the
/// `NodeStateMachine` as events and executes the actions it returns. Every decision is the
/// machine's; this type only does I/O. Owned by the node's thread alone.
final class NodeLoop: @unchecked Sendable {
    let config: NodeConfig
    var logger: Logger
    var nodeID: String { machine.nodeID }
    /// Requests to a remote broker and its notifications; nil with a built-in broker, which
    /// the loop calls directly (see `broker`). Replaced on a failover (`useBroker`).
    var dealer: ZMQSocket?
    var sub: ZMQSocket?
    /// With a failover list: the dealer's monitor (`ZMQ_EVENT_DISCONNECTED`), so that a broker
    /// whose connection drops is left at once.
    var monitor: ZMQSocket?
    var monitors = 0
    let context: ZMQContext
    let subscriptions: [String]
    let wake: WakePipe
    /// A built-in broker served by this loop's own poll and called directly (no socket, no
    /// thread between node and broker), or nil.
    let broker: (any BuiltInBroker)?

    let machine: NodeStateMachine
    /// The worker processes, by the machine's worker id.
    var handles: [WorkerHandle] = []

    var snapshot: PluginSnapshot
    var generationDir = ""
    /// A copy of the plugins folder being probed before workers load it.
    var pendingGeneration: PendingGeneration?
    /// What loading each plugin file version alone gave (keyed by file versions): each version is
    /// probed once, not once per worker or generation.
    var probeVerdicts: [String: ProbeOutcome] = [:]
    var lastReloadCheck = MonotonicInstant(seconds: 0)
    /// What `pollOnce` waits on; nil when the set of workers changed.
    var pollCache: PollSet?
    /// What the kernel offers the sandbox, and the workers' cgroup folder (`NodeLoop+Sandbox`).
    let sandbox: NodeSandbox

    init(config: NodeConfig, logger: Logger, wake: WakePipe, context: ZMQContext, broker: (any BuiltInBroker)? = nil) throws {
        self.broker = broker
        self.config = config
        self.wake = wake
        self.context = context
        let hostname = (HostName.current() ?? "").filter { Identifier.isValidID(String($0)) || $0 == "-" || $0 == "." }
        let nodeID = config.nodeID ?? "\(hostname.isEmpty ? "node" : hostname)-\(getpid())"
        var logger = logger
        logger[metadataKey: "node"] = "\(nodeID)"
        self.logger = logger
        machine = NodeStateMachine(config: config, nodeID: nodeID, processID: Int(getpid()), brokerIsBuiltIn: broker != nil, logger: logger)
        snapshot = PluginSnapshot(source: config.pluginsDir)
        sandbox = try NodeSandbox.start(config.sandbox)

        subscriptions = [
            "{\"method\":\"zerotask.node.task_cancel\",\"params\":{\"node_id\":\(JSONValue.string(nodeID).jsonString),",
            "{\"method\":\"zerotask.node.broker_node_status\"",
        ]
        if let broker {
            broker.subscribeLocal(subscriptions)
            dealer = nil
            sub = nil
            return
        }
        (dealer, sub) = try Self.openSockets(config, index: 0, nodeID: nodeID, subscriptions: subscriptions, context: context)
        monitor = try watch(dealer)
    }

    /// A PAIR socket that hears when `dealer`'s connection drops; nil without a failover list.
    private func watch(_ dealer: ZMQSocket?) throws -> ZMQSocket? {
        guard let dealer, config.brokers.count > 1 else { return nil }
        monitors += 1
        let endpoint = "inproc://zerotask-node-monitor-\(getpid())-\(monitors)"
        try dealer.monitor(endpoint, events: Int32(ZMQMonitorEvent.disconnected))
        let pair = try ZMQSocket(context, .pair)
        try pair.setLinger(milliseconds: 0)
        try pair.connect(endpoint)
        return pair
    }

    /// The DEALER and SUB sockets to broker `index` of `config.brokers`.
    static func openSockets(_ config: NodeConfig, index: Int, nodeID: String, subscriptions: [String], context: ZMQContext)
        throws -> (ZMQSocket, ZMQSocket)
    {
        let dealer = try ZMQSocket(context, .dealer)
        // Without keys a stable routing id lets the node take its place back after a reconnect
        // (ROUTER handover). With keys its key proves who it is, the broker keeps handover off,
        // and the routing id is libzmq's own, so nobody can predict it and take its replies.
        if config.curve == nil { try dealer.setRoutingID(Array("node:\(nodeID)".utf8)) }
        try dealer.setReconnectInterval(100, max: 2000)
        try dealer.setLinger(milliseconds: 1000)
        try dealer.secure(with: config.curve)
        try dealer.connect(config.brokers[index])
        let sub = try ZMQSocket(context, .sub)
        for prefix in subscriptions { try sub.subscribe(prefix) }
        try sub.setLinger(milliseconds: 0)
        try sub.secure(with: config.curve)
        try sub.connect(config.publishEndpoint(of: index))
        return (dealer, sub)
    }

    /// Fails over: the sockets to the old broker close (what they still hold is given up: the
    /// machine sends it again) and new ones connect to broker `index`.
    private func useBroker(_ index: Int) {
        guard broker == nil else { return }
        dealer?.close(lingerMilliseconds: 0)
        sub?.close(lingerMilliseconds: 0)
        monitor?.close(lingerMilliseconds: 0)
        dealer = nil
        sub = nil
        monitor = nil
        pollCache = nil
        do {
            (dealer, sub) = try Self.openSockets(config, index: index, nodeID: nodeID, subscriptions: subscriptions, context: context)
            monitor = try watch(dealer)
            logger.info("connecting to the broker at \(config.brokers[index])")
        } catch {
            // The endpoints were checked at start: not expected. The requests that find no
            // socket are lost, and the machine fails over again when their deadline passes.
            logger.error("cannot connect to the broker at \(config.brokers[index]): \(error)")
        }
    }

    static func now() -> MonotonicInstant { MonotonicInstant.now() }

    func run() {
        let stale = PluginSnapshot.removeStale()
        if !stale.isEmpty {
            logger.info("removed \(stale.count) private plugin folder\(stale.count == 1 ? "" : "s") left behind by nodes that are gone (\(stale.prefix(3).joined(separator: ", "))\(stale.count > 3 ? ", …" : ""))")
        }
        logger.info("node starting: \(config.workers) workers, plugins from \(config.pluginsDir), broker \(config.brokers.joined(separator: ", then "))")
        logSandboxSupport()
        checkPlugins(now: Self.now())
        while !machine.isDone {
            pollOnce()
            let now = Self.now()
            // Cancels a worker's watcher could not take at once (the worker stopped, say).
            for h in handles where h.process.urgent.hasPendingOutput { _ = try? h.process.urgent.flush() }
            for h in handles where h.output.suppressed > 0 { reportSuppressedOutput(h, now: now) }
            pollProbes(now: now)
            checkPlugins(now: now)
            execute(machine.tick(now: now))
        }
        abandonProbes()
        shutdownWorkers()
        sandbox.removeCgroups()
        sweepOrphans()
        snapshot.removeAll()
        dealer?.close(lingerMilliseconds: 500)
        sub?.close(lingerMilliseconds: 0)
        monitor?.close(lingerMilliseconds: 0)
        broker?.finish()
        logger.info("node stopped")
    }

    // MARK: Actions

    /// Does what the machine asked, in order; what that brings back (a failed spawn, a broken
    /// channel) goes back to the machine at once.
    func execute(_ actions: [NodeAction]) {
        // One failed start in a batch says enough (no executable, no processes left): the
        // other starts it asks for fail with it, and are asked for again later.
        var spawnFailed = false
        for action in actions {
            switch action {
            case .send(let request, let id):
                transmit(request, id: id)
            case .spawn(let spec):
                let ok = !spawnFailed && spawn(spec)
                spawnFailed = !ok
                execute(machine.workerSpawned(spec.id, ok: ok, now: Self.now()))
            case .write(let id, let messages):
                guard let h = handle(id) else { continue }
                for m in messages { h.process.channel.enqueue(m) }
                if !writeToWorker(h) {
                    execute(machine.tasksUndelivered(worker: id, count: messages.count { if case .task = $0 { true } else { false } }))
                }
            case .cancel(let id, let task):
                guard let h = handle(id) else { continue }
                h.process.cancel(task)
                writeToWorker(h)
            case .kill(let id):
                guard let h = handle(id) else { continue }
                let exit = killAndReap(h)
                logger.debug("worker \(id) ended: \(exit)")
                remove(h)
            case .useBroker(let index):
                useBroker(index)
            }
        }
    }

    /// To the built-in broker as it is; to a remote one as JSON-RPC.
    private func transmit(_ request: NodeRequest, id: Int64?) {
        if let broker {
            broker.handleLocal(request, id: id)
            return
        }
        do {
            let message = Request(method: request.method.wireName, params: request.params, id: id.map { .int($0) })
            try dealer?.send(message.json.jsonBytes, dontWait: true)
        } catch {
            logger.warning("cannot send \(request.method.rawValue) to the broker: \(error)")
        }
    }

    /// Starts the worker process for `spec`; false (logged) if it cannot.
    private func spawn(_ spec: WorkerSpec) -> Bool {
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        let args = config.workerArguments + [
            "--plugins", generationDir, "--worker-id", "\(spec.id)", "--max-result-bytes", "\(config.maxResultBytes)",
            "--plugin-config", JSONValue.object(JSONObject(config.pluginConfig.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })).jsonString,
        ]
        let (sandboxArgs, cgroup) = sandboxArguments(for: spec)
        do {
            let process = try WorkerProcess.spawn(executable: config.workerExecutable, arguments: args + sandboxArgs, environment: env)
            handles.append(WorkerHandle(id: spec.id, process: process, cgroups: cgroup))
            pollCache = nil
            logger.debug("worker \(spec.id) started (pid \(process.pid))")
            return true
        } catch {
            cgroup.remove()
            logger.error("cannot start a worker: \(error)")
            return false
        }
    }

    func handle(_ id: Int) -> WorkerHandle? { handles.first { $0.id == id } }

    /// Closes a worker's descriptors and forgets it; plugin copies no worker uses go.
    func remove(_ h: WorkerHandle) {
        reportSuppressedOutput(h, now: Self.now(), force: true)
        h.process.closeDescriptors()
        // Whatever the worker's plugins started and left behind goes with it.
        h.cgroups.remove()
        handles.removeAll { $0 === h }
        // What it left running that came back to the node (no cgroup, or a crash) goes too.
        sweepOrphans()
        pollCache = nil
        let live = machine.liveGenerations
        for g in 1..<max(1, snapshot.generation) where !live.contains(g) { snapshot.removeGeneration(g) }
    }

    // MARK: Polling

    /// What `pollOnce` waits on, and where each item is in the poller.
    struct PollSet {
        var poller = ZMQPoller()
        var dealer: Int?
        var sub: Int?
        var monitor: Int?
        var wake = 0
        /// Worker items: (worker, which: 0 control, 1 stdout, 2 stderr, 3 its pidfd: it ended).
        var handlers: [(worker: WorkerHandle, which: Int, index: Int)] = []
        /// Whether any probe's channel is readable comes in `pollProbes`, which polls the probes.
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
        if let monitor { set.monitor = set.poller.add(monitor) }
        set.wake = set.poller.add(fd: wake.readFD)
        for h in handles {
            set.handlers.append((h, 0, set.poller.add(fd: h.process.channel.fd, h.outputBlocked ? [.readable, .writable] : .readable)))
            if h.stdoutOpen { set.handlers.append((h, 1, set.poller.add(fd: h.process.stdoutFD))) }
            if h.stderrOpen { set.handlers.append((h, 2, set.poller.add(fd: h.process.stderrFD))) }
            if h.process.pidFD >= 0 { set.handlers.append((h, 3, set.poller.add(fd: h.process.pidFD))) }
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
        if let i = set.monitor, ready[i].contains(.readable) { receiveMonitorEvents() }
        if ready[set.wake].contains(.readable) { wakeUp() }
        for (h, which, i) in set.handlers where !ready[i].isEmpty {
            guard handles.contains(where: { $0 === h }) else { continue }
            if which == 0 && ready[i].contains(.writable) { writeToWorker(h) }
            guard ready[i].contains(.readable) else { continue }
            switch which {
            case 0: receiveFromWorker(h)
            case 1: logOutput(h, stderr: false)
            case 2: logOutput(h, stderr: true)
            default:
                // Ended: what it sent before that first, then its end (also where a process it
                // started keeps its channel open, so that no end of file comes).
                receiveFromWorker(h)
                if handles.contains(where: { $0 === h }) { workerEnded(h) }
            }
        }
        if let broker {
            // What the node sent its built-in broker is served in this same turn, and the
            // answers are handled at once.
            broker.step(ready[set.broker...])
            let (replies, notifications) = broker.takeLocalMessages()
            for response in replies { execute(machine.brokerReplied(response, now: Self.now())) }
            for body in notifications { handleNotification(body) }
        }
    }

    private func pollTimeout() -> Int {
        let now = Self.now()
        let next = min(0.1, machine.nextTaskTimer - now)
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
            execute(machine.hardStop(now: Self.now()))
        } else if why == Self.drainSignal {
            execute(machine.drain(now: Self.now()))
        }
    }

    // MARK: The broker's messages

    func receiveFromBroker() {
        while let frames = try? dealer?.receiveFrames(dontWait: true), let body = frames.last {
            guard let json = try? JSONValue.parse(body) else {
                logger.warning("unreadable message from the broker")
                continue
            }
            for r in json.arrayValue ?? [json] {
                if let response = Response(json: r) { execute(machine.brokerReplied(response, now: Self.now())) }
            }
        }
    }

    /// The dealer's monitor: a dropped connection is a lost broker.
    func receiveMonitorEvents() {
        var dropped = false
        while let frames = try? monitor?.receiveFrames(dontWait: true) {
            if ZMQMonitorEvent(frames: frames)?.event == ZMQMonitorEvent.disconnected { dropped = true }
        }
        if dropped { execute(machine.brokerDisconnected(now: Self.now())) }
    }

    func receiveNotifications() {
        while let frames = try? sub?.receiveFrames(dontWait: true), let body = frames.last {
            handleNotification(body)
        }
    }

    func handleNotification(_ body: [UInt8]) {
        guard let json = try? JSONValue.parse(body), let method = json["method"]?.stringValue else { return }
        switch method {
        case "zerotask.node.task_cancel":
            if json["params"]?["node_id"]?.stringValue == nodeID, let t = json["params"]?["task_id"]?.stringValue {
                execute(machine.cancelRequested(t, now: Self.now()))
            }
        case "zerotask.node.broker_node_status":
            execute(machine.statusRequested(now: Self.now()))
        default:
            break
        }
    }

    // MARK: Workers' channels and output

    func receiveFromWorker(_ h: WorkerHandle) {
        let frames: [JSONValue]
        do {
            frames = try h.process.channel.receiveAvailable()
        } catch {
            workerEnded(h)
            return
        }
        let now = Self.now()
        for frame in frames {
            let message: WorkerMessage
            do {
                message = try WorkerMessage(json: frame)
            } catch {
                logger.warning("worker \(h.id) sent \(error): \(frame)")
                continue
            }
            switch message {
            case .log(let taskID, let level, let text):
                // Plugin output: logged here, under the worker's output budget.
                guard h.output.admit(text.utf8.count + 1, now: now) else { continue }
                reportSuppressedOutput(h, now: now, force: true)
                var meta: Logger.Metadata = ["worker": "\(h.id)"]
                if let taskID { meta["task"] = "\(taskID)" }
                logger.log(level: level, "plugin: \(text.escapingControlCharacters)", metadata: meta)
            case .ready(let pid, let methods, let problems):
                // Problems name files in the private copy: the operator knows the plugins folder.
                let shown = problems.map { snapshot.sourcePath($0, in: generationDir) }
                limitProcesses(h)
                execute(machine.workerSent(.ready(pid: pid, methods: methods, problems: shown), worker: h.id, now: now))
            default:
                execute(machine.workerSent(message, worker: h.id, now: now))
            }
        }
    }

    /// The worker's control channel closed: it exited or crashed.
    private func workerEnded(_ h: WorkerHandle) {
        var exit = h.process.reap()
        if exit == nil {
            // Give a process that closed its channel a moment to finish exiting, then make sure.
            for _ in 0..<50 where exit == nil {
                usleep(2000)
                exit = h.process.reap()
            }
        }
        let how = exit ?? killAndReap(h)
        // Drain what it printed last (a crash message, a backtrace).
        for _ in 0..<8 where h.stdoutOpen || h.stderrOpen {
            if h.stdoutOpen { logOutput(h, stderr: false) }
            if h.stderrOpen { logOutput(h, stderr: true) }
        }
        let actions = machine.workerExited(h.id, how, oomKills: h.cgroups.oomKills, now: Self.now())
        remove(h)
        execute(actions)
    }

    /// Writes what is queued on `h`'s control channel, as much as it takes without blocking;
    /// the rest goes when poll says the channel is writable. Returns false if the channel is
    /// broken (the worker is dying: its end of file will be handled).
    @discardableResult
    func writeToWorker(_ h: WorkerHandle) -> Bool {
        let done: Bool
        do {
            done = try h.process.channel.flush()
        } catch {
            if h.outputBlocked { h.outputBlocked = false; pollCache = nil }
            return false
        }
        if h.outputBlocked == done {
            // Start or stop watching for writable.
            h.outputBlocked = !done
            pollCache = nil
        }
        return true
    }

    func logOutput(_ h: WorkerHandle, stderr: Bool) {
        var buffer = stderr ? h.stderrLines : h.stdoutLines
        let (lines, eof) = buffer.read(stderr ? h.process.stderrFD : h.process.stdoutFD)
        if stderr { h.stderrLines = buffer } else { h.stdoutLines = buffer }
        let now = lines.isEmpty ? 0 : Self.now()
        let task = lines.isEmpty ? nil : machine.worker(h.id)?.task?.assignment.id
        for line in lines {
            guard h.output.admit(line.utf8.count + 1, now: now) else { continue }
            reportSuppressedOutput(h, now: now, force: true)
            var meta: Logger.Metadata = ["worker": "\(h.id)", "stream": stderr ? "stderr" : "stdout"]
            if let task { meta["task"] = "\(task)" }
            logger.info("worker \(h.id): \(line.escapingControlCharacters)", metadata: meta)
        }
        if eof {
            if stderr { h.stderrOpen = false } else { h.stdoutOpen = false }
            pollCache = nil
        }
    }

    /// Says how much of a worker's output the budget kept out of the log, when it is time to.
    func reportSuppressedOutput(_ h: WorkerHandle, now: MonotonicInstant, force: Bool = false) {
        guard let n = h.output.takeSuppressed(now: now, force: force) else { return }
        logger.warning("worker \(h.id): suppressed \(n) bytes of plugin output (over \(OutputBudget.burst / 1024) KiB at once or \(Int(OutputBudget.rate) / 1024) KiB/s)",
                       metadata: ["worker": "\(h.id)"])
    }

    /// Ends every worker: exit frames first, then SIGKILL for any still there after a second.
    private func shutdownWorkers() {
        for h in handles {
            h.process.channel.enqueue(.exit)
            writeToWorker(h)
        }
        let deadline = Self.now() + 1
        while !handles.isEmpty && Self.now() < deadline {
            for h in handles {
                if h.process.reap() != nil {
                    h.process.closeDescriptors()
                    handles.removeAll { $0 === h }
                }
            }
            usleep(5000)
        }
        for h in handles {
            _ = killAndReap(h)
            h.process.closeDescriptors()
        }
        handles.removeAll()
    }
}

/// The loop's side of one worker process: its descriptors and what it printed. What the worker
/// runs and holds is the state machine's `Worker`, by the same id.
final class WorkerHandle {
    let id: Int
    let process: WorkerProcess
    /// The control channel holds bytes the worker has not taken yet: poll for writable.
    var outputBlocked = false
    var stdoutLines = LineBuffer()
    var stderrLines = LineBuffer()
    /// How much more of its output may reach the node's log (stdout, stderr and `ctx->log`).
    var output = OutputBudget()
    var stdoutOpen = true
    var stderrOpen = true
    /// Its memory and pids cgroups, where the node could make them: the OOM count tells a memory
    /// limit from a crash, and removing them kills what the worker's plugins left running.
    let cgroups: WorkerCgroups

    init(id: Int, process: WorkerProcess, cgroups: WorkerCgroups) {
        self.id = id
        self.process = process
        self.cgroups = cgroups
    }
}
