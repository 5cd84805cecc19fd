#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ZeroTaskProtocol

/// Supervising workers: start, replace, time out, recycle, reload.
extension NodeLoop {
    func ensureWorkers(now: Double) {
        guard case .running = phase, now >= nextSpawnAt, snapshot.generation > 0 else { return }
        var current = workers.count { $0.generation == snapshot.generation && !$0.isExiting }
        while current < config.workers {
            guard spawnWorker(now: now, profile: profileToStart()) else { return }
            current += 1
        }
    }

    @discardableResult
    func spawnWorker(now: Double, profile: SandboxProfile) -> Bool {
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        let id = nextWorkerID
        nextWorkerID += 1
        let args = config.workerArguments + [
            "--plugins", generationDir, "--worker-id", "\(id)", "--max-result-bytes", "\(config.maxResultBytes)",
            "--plugin-config", JSONValue.object(JSONObject(config.pluginConfig.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })).jsonString,
        ]
        let (sandboxArgs, cgroup) = sandboxArguments(worker: id, profile: profile)
        do {
            let process = try WorkerProcess.spawn(executable: config.workerExecutable, arguments: args + sandboxArgs, environment: env)
            workers.append(Worker(id: id, process: process, generation: snapshot.generation, startedAt: now, profile: profile, cgroup: cgroup))
            pollCache = nil
            stats.workerStarts += 1
            logger.debug("worker \(id) started (pid \(process.pid))")
            return true
        } catch {
            cgroup?.remove()
            logger.error("cannot start a worker: \(error)")
            nextSpawnAt = now + 1
            return false
        }
    }

    func receiveFromWorker(_ w: Worker) {
        let frames: [JSONValue]
        do {
            frames = try w.process.channel.receiveAvailable()
        } catch {
            workerEnded(w, now: Self.now())
            return
        }
        let now = Self.now()
        for frame in frames {
            switch frame["type"]?.stringValue {
            case "ready": workerReady(w, frame, now: now)
            case "done": workerDone(w, frame, now: now)
            case "progress":
                guard let t = w.task, frame["id"]?.stringValue == t.assignment.id else { continue }
                var fields: JSONObject = ["node_id": .string(nodeID), "task_id": .string(t.assignment.id),
                    "status": .int(TaskStatus.running.rawValue), "progress": frame["progress"] ?? .null]
                if let m = frame["message"] { fields["message"] = m }
                notify("task_status", .named(fields))
            case "log":
                let message = frame["message"]?.stringValue ?? ""
                guard w.output.admit(message.utf8.count + 1, now: now) else { continue }
                reportSuppressedOutput(w, now: now, force: true)
                var meta: Logger.Metadata = ["worker": "\(w.id)"]
                if let id = frame["id"]?.stringValue { meta["task"] = "\(id)" }
                let level = frame["level"]?.stringValue.flatMap(Logger.Level.init(rawValue:)) ?? .info
                logger.log(level: level, "plugin: \(message.escapingControlCharacters)", metadata: meta)
            default:
                logger.warning("worker \(w.id) sent an unknown frame: \(frame)")
            }
        }
    }

    private func workerReady(_ w: Worker, _ frame: JSONValue, now: Double) {
        startupFailures = 0
        stats.workerStartSeconds.add(now - w.startedAt)
        if w.generation < snapshot.generation || phase.isStopping {
            stopWorker(w)
            return
        }
        w.state = .ready
        if methodsGeneration < w.generation {
            methodsGeneration = w.generation
            methods = frame["methods"]?.arrayValue ?? []
            unavailable = generationUnavailable
            methodTimeouts = [:]
            for m in methods {
                if let name = m["name"]?.stringValue, let t = m["timeout"]?.doubleValue { methodTimeouts[name] = t }
            }
            let names = methods.compactMap { $0["name"]?.stringValue }
            logger.info("serving \(names.count) methods: \(names.joined(separator: ", "))")
            for p in frame["problems"]?.arrayValue ?? [] {
                logger.warning("plugin skipped: \(snapshot.sourcePath(p.stringValue ?? "\(p)", in: generationDir))")
            }
        }
    }

    private func workerDone(_ w: Worker, _ frame: JSONValue, now: Double) {
        guard let t = w.task, frame["id"]?.stringValue == t.assignment.id else { return }
        w.queue.removeFirst()
        if !w.queue.isEmpty {
            w.queue[0].startedAt = now
            // Cancelled while it waited: if the worker starts it anyway, it gets the grace only.
            if w.queue[0].cancelled { w.queue[0].killAt = now + config.cancelGrace }
        }
        let took = now - (t.startedAt ?? now)
        stats.taskSeconds.add(took)
        let m = t.assignment.method
        methodDurations[m] = methodDurations[m].map { 0.8 * $0 + 0.2 * took } ?? took
        recentDuration = recentDuration.map { 0.9 * $0 + 0.1 * took } ?? took
        let outcome: Result<JSONValue, RPCError>
        if let e = frame["error"].flatMap(RPCError.init(json:)) {
            outcome = .failure(e)
        } else {
            outcome = .success(frame["result"] ?? .null)
        }
        // A cancelled task stays cancelled, whatever the plugin returned.
        if !t.abandoned {
            report(t.assignment.id, t.cancelled ? .failure(.taskCancelled(t.assignment.id)) : outcome)
        }
        w.tasksRun += 1
        if let rss = frame["rss"]?.int64Value { w.residentBytes = Int(rss) }
        guard !w.isExiting else { return }
        if config.maxTasksPerWorker > 0 && w.tasksRun + w.queue.count >= config.maxTasksPerWorker {
            logger.info("worker \(w.id) recycled after \(w.tasksRun + w.queue.count) tasks")
            stopWorker(w)
        } else if config.maxWorkerMemory > 0 && w.residentBytes > config.maxWorkerMemory {
            logger.info("worker \(w.id) recycled at \(w.residentBytes / 1_048_576) MiB resident (limit \(config.maxWorkerMemory / 1_048_576) MiB)")
            stopWorker(w)
        } else if w.generation < snapshot.generation {
            stopWorker(w)
        }
    }

    /// Asks a worker to exit once it has run what is queued on it.
    func stopWorker(_ w: Worker) {
        w.state = .exiting
        w.process.channel.enqueue(["type": "exit"])
        writeToWorker(w)
    }

    /// Fails the worker's running task with `error`, kills the worker and lets a fresh one
    /// replace it; tasks queued behind it never started and wait for another worker.
    func fail(_ w: Worker, _ error: RPCError, now: Double) {
        if let t = w.task {
            logger.warning("\(error.message); killing worker \(w.id)", metadata: ["task": "\(t.assignment.id)", "worker": "\(w.id)"])
            if !t.abandoned { report(t.assignment.id, .failure(error)) }
        }
        requeueBehindHead(w)
        let exit = w.process.killAndReap()
        logger.debug("worker \(w.id) ended: \(exit)")
        remove(w)
    }

    /// Puts the tasks queued behind a dead worker's running one back in front of the waiting line.
    func requeueBehindHead(_ w: Worker) {
        guard w.queue.count > 1 else { return }
        let rest = w.queue.dropFirst()
        for t in rest where t.cancelled && !t.abandoned {
            report(t.assignment.id, .failure(.taskCancelled(t.assignment.id)))
        }
        waiting.insert(contentsOf: rest.filter { !$0.cancelled }.map(\.assignment), at: 0)
        w.queue.removeSubrange(1...)
    }

    /// The worker's control channel closed: it exited or crashed.
    func workerEnded(_ w: Worker, now: Double) {
        var exit = w.process.reap()
        if exit == nil {
            // Give a process that closed its channel a moment to finish exiting, then make sure.
            for _ in 0..<50 where exit == nil {
                usleep(2000)
                exit = w.process.reap()
            }
        }
        let how = exit ?? w.process.killAndReap()
        requeueBehindHead(w)
        // Drain what it printed last (a crash message, a backtrace).
        for _ in 0..<8 where w.stdoutOpen || w.stderrOpen {
            if w.stdoutOpen { logOutput(w, stderr: false) }
            if w.stderrOpen { logOutput(w, stderr: true) }
        }
        if let t = w.task {
            var data: JSONObject = ["worker": .int(Int64(w.id))]
            switch how {
            case .signaled(let s):
                data["signal"] = .string(ProcessExit.signalName(s))
                data["signal_number"] = .int(Int64(s))
            case .exited(let c):
                data["exit_status"] = .int(Int64(c))
            }
            let e = t.cancelled
                ? .taskCancelled(t.assignment.id)
                : limitError(w, how, t) ?? RPCError(.workerCrashed, "worker crashed (\(how)) while running \(t.assignment.method) for task \(t.assignment.id)", data: .object(data))
            logger.error("\(e.message)", metadata: ["task": "\(t.assignment.id)", "worker": "\(w.id)"])
            if !t.abandoned { report(t.assignment.id, .failure(e)) }
        } else if case .starting = w.state {
            startupFailures += 1
            let delay = min(5.0, 0.1 * pow(2.0, Double(min(startupFailures, 10))))
            logger.error("worker \(w.id) died while loading plugins (\(how)); next start in \(String(format: "%.1f", delay)) s")
            nextSpawnAt = now + delay
        } else if case .exiting = w.state {
            logger.debug("worker \(w.id) exited (\(how))")
        } else {
            logger.warning("worker \(w.id) ended unexpectedly (\(how))")
        }
        remove(w)
    }

    func remove(_ w: Worker) {
        reportSuppressedOutput(w, now: Self.now(), force: true)
        w.process.closeDescriptors()
        // Whatever the worker's plugins started and left behind goes with it.
        w.cgroup?.remove()
        workers.removeAll { $0 === w }
        pollCache = nil
        let oldGenerations = Set(workers.map(\.generation))
        for g in 1..<max(1, snapshot.generation) where !oldGenerations.contains(g) { snapshot.removeGeneration(g) }
    }

    /// Cancels a task this node holds: a waiting one is dropped; a queued one is skipped by its
    /// worker; a running one sees `ctx->cancelled`, and its worker is killed after the grace.
    func cancelTask(_ taskID: String, now: Double, abandon: Bool = false) {
        waiting.removeAll { $0.id == taskID }
        guard let w = workers.first(where: { $0.queue.contains { $0.assignment.id == taskID } }),
            let i = w.queue.firstIndex(where: { $0.assignment.id == taskID }), !w.queue[i].cancelled
        else { return }
        logger.info("cancelling task \(taskID) on worker \(w.id)")
        w.process.cancel(taskID)
        writeToWorker(w)
        w.queue[i].cancelled = true
        w.queue[i].abandoned = abandon
        if i == 0 { w.queue[0].killAt = now + config.cancelGrace }
    }

    /// Ends every worker: exit frames first, then SIGKILL for any still there after a second.
    func shutdownWorkers() {
        for w in workers {
            w.process.channel.enqueue(["type": "exit"])
            writeToWorker(w)
        }
        let deadline = Self.now() + 1
        while !workers.isEmpty && Self.now() < deadline {
            for w in workers {
                if w.process.reap() != nil {
                    w.process.closeDescriptors()
                    workers.removeAll { $0 === w }
                }
            }
            usleep(5000)
        }
        for w in workers {
            _ = w.process.killAndReap()
            w.process.closeDescriptors()
        }
        workers.removeAll()
    }
}

extension NodeLoop.Phase {
    var isStopping: Bool {
        if case .running = self { false } else { true }
    }
}
