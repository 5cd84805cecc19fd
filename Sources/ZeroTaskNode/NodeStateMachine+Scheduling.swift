import Logging
import ZeroTaskProtocol

/// Scheduling: which worker runs what, how much to ask the broker for, what to hand back.
extension NodeStateMachine {
    /// Keeps the pool full, hands waiting tasks to workers, asks for work when there is room.
    func schedule(now: MonotonicInstant) {
        ensureWorkers(now: now)
        if case .running = phase, !waiting.isEmpty {
            var kept: [Assignment] = []
            for a in waiting {
                if let w = worker(for: a, now: now) { dispatch(a, to: w, now: now) } else { kept.append(a) }
            }
            waiting = kept
            replaceIdleWorkerForWaiting()
        }
        // One write per worker for all the tasks it just got (or got again: `workerDone`).
        for w in workers where !w.unsent.isEmpty {
            emit(.write(worker: w.id, w.unsent))
            w.unsent = []
        }
        if !registered && !registering && now >= nextRegisterAt && methodsGeneration > 0, case .running = phase {
            registering = true
            send(.connect(advertisement), .connect, now: now)
        }
        if registered && advertisedGeneration < methodsGeneration {
            advertisedGeneration = methodsGeneration
            send(.advertise(advertisement), .advertise, now: now)
        }
        guard registered else { return }
        var free = 0
        if case .running = phase { free = freeSlots(now: now) - waiting.count }
        var pulled = false
        if free > 0 && !pullInFlight {
            // Outcomes of tasks from a broker the node left go alone (node_tasks_done), so
            // that the new broker's refusal of each is heard and logged.
            let done = orphans.isEmpty ? takeDone() : []
            pullInFlight = true
            pulled = true
            send(.pull(nodeID: nodeID, max: free, wait: config.pullWait, done: done), .pull(done: done), now: now,
                timeout: config.pullWait + config.requestTimeout)
        }
        if !doneBuffer.isEmpty && (!pulled || !orphans.isEmpty) {
            let done = takeDone()
            send(.tasksDone(nodeID: nodeID, done), .done(done), now: now)
        }
    }

    /// What `node_connect` and `node_advertise` say about this node.
    var advertisement: NodeAdvertisement {
        NodeAdvertisement(nodeID: nodeID, methods: methods, workers: config.workers, capacity: capacity,
            unavailable: unavailable, tags: config.tags)
    }

    /// A RUNNING status is sent for tasks still running after this long.
    static let announceAfter = 0.02
    /// Tasks of methods faster than this may queue behind a running task.
    static let fastTask = 0.002
    /// A prefetched task not started within this long goes back to the broker.
    static let releaseAfter = 0.1
    /// How much expected work a worker may hold queued behind its running task.
    static let queueBudget = 0.005

    /// The most tasks the broker may hand this node at once.
    var capacity: Int { config.workers * max(1, config.pipelineDepth) }

    func isFast(_ method: String) -> Bool { (methodDurations[method] ?? .infinity) < Self.fastTask }

    /// How many tasks a worker may hold (the running one included) while tasks are short: as
    /// many as fit in `queueBudget` of expected work, at most `pipelineDepth`. Deep queues for
    /// tiny tasks mean fewer, larger messages per task; short ones for slower tasks keep a
    /// node from hoarding work another node could start now.
    var pipelineSlots: Int { slots(forDuration: recentDuration) }

    private func slots(forDuration d: Double?) -> Int {
        guard config.pipelineDepth > 1, let d, d < Self.fastTask else { return 1 }
        return max(1, min(config.pipelineDepth, Int(Self.queueBudget / max(d, 1e-6))))
    }

    /// Room for more tasks: idle workers, plus queue places behind fast tasks while tasks are short.
    /// (Computed on every loop turn: plain loops, no intermediate arrays.)
    func freeSlots(now: MonotonicInstant) -> Int {
        let depth = pipelineSlots
        let pipelining = depth > 1
        var slots = 0
        for w in workers where w.isReady && w.generation == generation {
            if w.queue.isEmpty {
                slots += 1
            } else if pipelining && !headIsSlow(w, now: now) && headIsFast(w) {
                slots += max(0, depth - w.queue.count)
            }
        }
        return slots
    }

    /// A worker whose running task has taken longer than a fast one should: nothing more is
    /// queued behind it (what was is handed back by `releaseStaleWaiting`).
    func headIsSlow(_ w: Worker, now: MonotonicInstant) -> Bool {
        guard let started = w.queue.first?.startedAt else { return false }
        return now - started >= Self.releaseAfter
    }

    /// Whether every task `w` holds is of a fast method. Only the first can be slow: a slow
    /// method's task goes to an idle worker only, and nothing is queued behind it.
    func headIsFast(_ w: Worker) -> Bool {
        w.queue.first.map { isFast($0.assignment.method) } ?? true
    }

    /// The worker to run `a`, among the ready ones of its method's sandbox profile: an idle one,
    /// else (for a fast method) the shortest queue of fast tasks. The one place that picks a
    /// worker for a task.
    func worker(for a: Assignment, now: MonotonicInstant) -> Worker? {
        // How many tasks may queue behind a running one, by this method's own speed (1 for a
        // method not known to be fast: idle workers only).
        let depth = methodDurations[a.method].map { slots(forDuration: $0) } ?? 1
        let fast = depth > 1
        var best: Worker?
        let profile = sandbox.profile(of: a.method)
        for w in workers where w.isReady && w.generation == generation && w.profile == profile
            && (config.maxTasksPerWorker == 0 || w.tasksRun + w.queue.count < config.maxTasksPerWorker)
        {
            if w.queue.isEmpty { return w }
            guard fast, w.queue.count < depth, !headIsSlow(w, now: now),
                best.map({ w.queue.count < $0.queue.count }) ?? true,
                headIsFast(w)
            else { continue }
            best = w
        }
        return best
    }

    /// Hands back tasks that wait too long here, so that another node can run them now: tasks
    /// prefetched while tasks were short and then stuck behind slow ones (in `waiting`, or queued
    /// on a worker behind a task that has run too long), and, once stopping, all that did not start.
    func releaseStaleWaiting(now: MonotonicInstant) {
        guard registered else { return }
        var release: [String] = []
        if phase.isStopping {
            release = waiting.map(\.id)
            waiting = []
        } else if !waiting.isEmpty {
            let stale = waiting.filter { now - $0.receivedAt >= Self.releaseAfter }
            // With a worker idle they are about to run (a slow method goes to idle workers only).
            if !stale.isEmpty && (stale.count < waiting.count || workers.allSatisfy({ !$0.isIdle })) {
                waiting.removeAll { now - $0.receivedAt >= Self.releaseAfter }
                release = stale.map(\.id)
            }
        }
        if case .running = phase {
            for w in workers where w.queue.count > 1 {
                guard let started = w.queue[0].startedAt, now - started >= Self.releaseAfter else { continue }
                for i in 1..<w.queue.count where !w.queue[i].cancelled {
                    // The worker skips it without a word; the broker gives it to someone else.
                    w.queue[i].cancelled = true
                    w.queue[i].abandoned = true
                    emit(.cancel(worker: w.id, task: w.queue[i].assignment.id))
                    release.append(w.queue[i].assignment.id)
                }
            }
        }
        guard !release.isEmpty else { return }
        logger.debug("handing \(release.count) tasks back to the broker")
        send(.release(nodeID: nodeID, taskIDs: release), .release, now: now)
    }

    /// Puts `a` in `w`'s queue, and its message among those `schedule` writes to `w` at once.
    func dispatch(_ a: Assignment, to w: Worker, now: MonotonicInstant) {
        let timeout = config.deadline(client: a.timeout, manifest: methodTimeouts[a.method])
        w.queue.append(Worker.QueuedTask(assignment: a, timeoutSeconds: timeout, startedAt: w.queue.isEmpty ? now : nil))
        w.unsent.append(.task(id: a.id, method: a.method, params: a.params))
    }
}
