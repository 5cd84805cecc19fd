import Foundation
import Logging
import ZeroTaskProtocol

/// Supervising workers: start, replace, time out, recycle, reload.
extension NodeStateMachine {
    /// Asks for workers until the current generation has `config.workers` that are not exiting.
    func ensureWorkers(now: MonotonicInstant) {
        guard case .running = phase, now >= nextSpawnAt, generation > 0 else { return }
        var current = workers.count { $0.generation == generation && !$0.isExiting }
        while current < config.workers {
            addWorker(profile: profileToStart(), now: now)
            current += 1
        }
    }

    func workerReady(_ w: Worker, methods served: [JSONValue], problems: [String], now: MonotonicInstant) {
        startupFailures = 0
        stats.workerStartSeconds.add(now - w.startedAt)
        if w.generation < generation || phase.isStopping {
            stopWorker(w)
            return
        }
        w.state = .ready
        if methodsGeneration < w.generation {
            methodsGeneration = w.generation
            methods = served
            unavailable = generationUnavailable
            methodTimeouts = [:]
            for m in methods {
                if let name = m["name"]?.stringValue, let t = m["timeout"]?.doubleValue { methodTimeouts[name] = t }
            }
            let names = methods.compactMap { $0["name"]?.stringValue }
            logger.info("serving \(names.count) methods: \(names.joined(separator: ", "))")
            for p in problems { logger.warning("plugin skipped: \(p)") }
        }
    }

    func workerDone(_ w: Worker, _ id: String, _ outcome: Result<JSONValue, RPCError>, residentBytes: Int?, now: MonotonicInstant) {
        guard let t = w.task, id == t.assignment.id else { return }
        if case .failure(let e) = outcome, e == .taskCancelled(id), residentBytes == nil, !t.cancelled, !t.resent {
            // Skipped, yet never cancelled: the worker still held the cancel of an earlier copy
            // of this task (handed back while queued behind a slow one, it ran before the cancel
            // came, and the broker gave it to this node again). Send it again: the worker has
            // used up that cancel now. It goes behind what the worker holds already, in the node's
            // queue as in the worker's, so that each outcome meets its own task.
            var again = w.queue.removeFirst()
            again.resent = true
            again.startedAt = w.queue.isEmpty ? now : nil
            if !w.queue.isEmpty { w.queue[0].startedAt = now }
            w.queue.append(again)
            w.unsent.append(.task(id: t.assignment.id, method: t.assignment.method, params: t.assignment.params))
            return
        }
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
        logTaskDone(t, outcome, seconds: took)
        // A cancelled task stays cancelled, whatever the plugin returned.
        if !t.abandoned {
            report(t.assignment.id, t.cancelled ? .failure(.taskCancelled(t.assignment.id)) : outcome)
        }
        w.tasksRun += 1
        if let residentBytes { w.residentBytes = residentBytes }
        guard !w.isExiting else { return }
        if config.maxTasksPerWorker > 0 && w.tasksRun + w.queue.count >= config.maxTasksPerWorker {
            logger.info("worker \(w.id) recycled after \(w.tasksRun + w.queue.count) tasks")
            stopWorker(w)
        } else if config.maxWorkerMemory > 0 && w.residentBytes > config.maxWorkerMemory {
            logger.info("worker \(w.id) recycled at \(w.residentBytes / 1_048_576) MiB resident (limit \(config.maxWorkerMemory / 1_048_576) MiB)")
            stopWorker(w)
        } else if w.generation < generation {
            stopWorker(w)
        }
    }

    /// Asks a worker to exit once it has run what is queued on it.
    func stopWorker(_ w: Worker) {
        w.state = .exiting
        emit(.write(worker: w.id, [.exit]))
    }

    /// Fails the worker's running task with `error`, kills the worker and lets a fresh one
    /// replace it; tasks queued behind it never started and wait for another worker.
    func fail(_ w: Worker, _ error: RPCError) {
        if let t = w.task {
            logger.warning("\(error.message); killing worker \(w.id)", metadata: ["task": "\(t.assignment.id)", "worker": "\(w.id)"])
            if !t.abandoned { report(t.assignment.id, .failure(error)) }
        }
        kill(w)
    }

    /// Kills `w` (the loop does) and forgets it; tasks queued behind its running one wait for
    /// another worker.
    func kill(_ w: Worker) {
        requeueBehindHead(w)
        forget(w)
        emit(.kill(worker: w.id))
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

    /// The worker's process ended: it exited, crashed or went over a sandbox limit.
    func workerEnded(_ w: Worker, _ how: ProcessExit, oomKills: Int, now: MonotonicInstant) {
        requeueBehindHead(w)
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
                : w.profile.limitError(how, oomKills: oomKills, method: t.assignment.method, task: t.assignment.id)
                    ?? RPCError(.workerCrashed, "worker crashed (\(how)) while running \(t.assignment.method) for task \(t.assignment.id)", data: .object(data))
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
        forget(w)
    }

    /// Cancels a task this node holds: a waiting one is dropped; a queued one is skipped by its
    /// worker; a running one sees `ctx->cancelled`, and its worker is killed after the grace.
    func cancelTask(_ taskID: String, now: MonotonicInstant, abandon: Bool = false) {
        waiting.removeAll { $0.id == taskID }
        guard let w = workers.first(where: { $0.queue.contains { $0.assignment.id == taskID } }),
            let i = w.queue.firstIndex(where: { $0.assignment.id == taskID }), !w.queue[i].cancelled
        else { return }
        logger.info("cancelling task \(taskID) on worker \(w.id)")
        emit(.cancel(worker: w.id, task: taskID))
        w.queue[i].cancelled = true
        w.queue[i].abandoned = abandon
        if i == 0 { w.queue[0].killAt = now + config.cancelGrace }
    }
}
