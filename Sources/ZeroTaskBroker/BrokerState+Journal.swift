import ZeroTaskProtocol

/// Durability: recording what changed for the store, and starting again from what it kept.
extension BrokerState {
    @inline(__always) mutating func taskChanged(_ id: String) {
        if journaling { changedTasks.insert(id) }
    }

    @inline(__always) mutating func clientChanged(_ id: String) {
        if journaling { changedClients.insert(id) }
    }

    /// The durable changes since the last call, each task and client as it is now; clears them.
    /// The owner writes them before sending the replies that acknowledge them.
    public mutating func takeChanges() -> StoreChanges {
        var c = StoreChanges()
        if limits.pausedChanged {
            limits.pausedChanged = false
            c.pausedMethods = limits.paused
        }
        takeScheduleChanges(into: &c)
        if shared != nil { c.shared = takeSharedRequest() }
        guard !changedTasks.isEmpty || !changedClients.isEmpty else { return c }
        c.tasks.reserveCapacity(changedTasks.count)
        for id in changedTasks {
            guard let t = tasks[id] else {
                c.deletedTasks.append(id)
                continue
            }
            // On a shared queue a claimed task's row says "claimed by this broker" until its
            // outcome: written once (by the claim, or as the claim made on insert), and then not
            // for every state in between, which only this broker needs (a broker that dies has
            // its claims rescued, and one that restarts hands its claims back).
            if t.unstored {
                // A deferred call: written only with its outcome (or once `storeNow` says).
                guard t.status.isComplete else { continue }
                tasks[id]!.unstored = false
                var row = t.stored
                row.neverStored = true
                c.tasks.append(row)
                continue
            }
            if t.claim != nil, !t.status.isComplete {
                if t.claimStored { continue }
                tasks[id]!.claimStored = true
            }
            c.tasks.append(t.stored)
        }
        for id in changedClients {
            if let stored = clients.stored(id) { c.clients.append(stored) } else { c.deletedClients.append(id) }
        }
        changedTasks.removeAll(keepingCapacity: true)
        changedClients.removeAll(keepingCapacity: true)
        return c
    }

    /// A `client_call` just parked for its task's outcome: the task is written with its outcome
    /// only, if that comes within `call_store_delay` (`BrokerConfig.callStoreDelay` says why).
    /// Only a task nobody else can name or claim: the broker generated its id, and on a shared
    /// queue a node here holds it (claimed on insert), since one left to the database's queue
    /// is written for other brokers to claim.
    mutating func deferStoring(call id: String, clientChose: Bool, now: MonotonicInstant) {
        guard journaling, config.callStoreDelay > 0, !clientChose, let t = tasks[id], !t.status.isComplete,
            shared == nil || t.claim != nil
        else { return }
        tasks[id]!.unstored = true
        unstoredCalls.append(id, due: now + config.callStoreDelay)
    }

    /// Gives the store a deferred call's task now (its caller is about to hear its id, it is
    /// left to the shared queue, or the broker stops); no-op for any other task.
    mutating func storeNow(_ id: String) {
        guard tasks[id]?.unstored == true else { return }
        tasks[id]!.unstored = false
        taskChanged(id)
    }

    /// A `client_call` answered before its task's outcome tells its id: stored with that reply.
    mutating func storeNamed(by waiter: ResultWaiter) {
        if waiter.single { storeNow(waiter.taskIDs[0]) }
    }

    /// Stores the deferred calls whose delay is over, still running (or waiting).
    mutating func storeLateCalls(now: MonotonicInstant) {
        while let id = unstoredCalls.popDue(now: now) { storeNow(id) }
    }

    /// Every deferred call's task, for a broker that stops: it is written as it stands, so a
    /// restart finds it.
    public mutating func storeAllCalls() {
        while let id = unstoredCalls.popDue(now: nil) { storeNow(id) }
    }

    /// Starts from what a store kept (call once, before any request).
    ///
    /// - Queued tasks go back to their queues in priority and submission order; those whose
    ///   `not_before` is still ahead are held back until then (the time counts on the wall clock).
    /// - Assigned and running tasks stay with their node, which is remembered as awaiting
    ///   reconnection: a node that comes back within `node_timeout` (it re-registers on -32030)
    ///   reports them as usual; otherwise they are queued again like any lost node's tasks. The
    ///   attempt in progress was counted when the task was assigned.
    /// - Finished and failed tasks keep their results (failed ones their params too, for
    ///   `admin_retry`); `result_ttl` (the task's own, else the
    ///   broker's) counts from their finish time.
    /// - Clients exist again, connected or not as they were, on no connection yet: one that
    ///   carries on with its id is served, and `client_connect` from a new connection is not
    ///   refused as taken.
    public mutating func restore(_ contents: StoreContents, now: MonotonicInstant) {
        let wallNow = wallClock()
        for c in contents.clients { clients.restore(c, now: now) }
        var completed: [TaskRecord] = []
        var runningWorkflows: [String] = []
        for s in contents.tasks.sorted(by: { $0.sequence < $1.sequence }) {
            var t = TaskRecord(
                id: s.id, clientID: s.clientID, spec: s.spec, status: s.status, sequence: s.sequence, maxRetries: s.maxRetries,
                attempts: s.attempts, nodeID: s.nodeID,
                result: s.result, error: s.error, created: s.created, started: s.started, finished: s.finished,
                history: s.history)
            t.events = s.events
            nextSequence = max(nextSequence, s.sequence &+ 1)
            switch s.status {
            case .finished, .failed:
                t.completedAt = now - max(0, wallNow - (s.finished ?? wallNow))
                if s.status == .finished && t.params != .null && !t.keepsParams {
                    // Written before finished tasks dropped their params: drop them now, on disk too.
                    t.params = .null
                    taskChanged(t.id)
                }
                completed.append(t)
            case .assigned, .running, .queued:
                pendingBytes += t.paramsBytes
                clients.countPending(t.clientID, by: 1)
                if t.keepsParams {
                    // A workflow runs on the broker itself: no queue, no node.
                    tasks[t.id] = t
                    runningWorkflows.append(t.id)
                } else if s.status != .queued, let nodeID = s.nodeID {
                    tasks[t.id] = t
                    nodes.restoreAssignment(t.id, to: nodeID, now: now, connectedAt: wallNow)
                } else if let notBefore = t.notBefore, notBefore > wallNow {
                    // Delayed (or backing off before a retry): held back again until its time.
                    t.status = .queued
                    t.nodeID = nil
                    tasks[t.id] = t
                    holdBack(t.id, until: now + (notBefore - wallNow))
                } else {
                    t.status = .queued
                    t.nodeID = nil
                    tasks[t.id] = t
                    queues[t.method, default: TaskQueue()].push(
                        TaskQueue.Entry(priority: t.priority, sequence: t.sequence, taskID: t.id), tags: t.tags)
                    queuedCount += 1
                }
            }
        }
        // Oldest first, so the budgets evict in completion order after a restart too.
        for var t in completed.sorted(by: { ($0.completedAt!, $0.sequence) < ($1.completedAt!, $1.sequence) }) {
            t.resultBytes = Self.resultBytes(t)
            tasks[t.id] = t
            keepResult(t)
        }
        restoreWorkflows(runningWorkflows)
        evictResultsOverBudget()
        reportEvictions(now: now, interval: 0)
        limits.paused = Set(contents.pausedMethods)
        adoptRunningTasks()
        restoreSchedules(contents.schedules, now: now)
    }
}

extension TaskRecord {
    var stored: StoredTask {
        var s = StoredTask(
            id: id, clientID: clientID, spec: storedSpec, sequence: sequence, maxRetries: maxRetries, attempts: attempts,
            status: status, nodeID: nodeID, result: result, error: error, created: created, started: started, finished: finished,
            history: history, events: events)
        s.claim = claim
        return s
    }
}

/// Deferred `client_call` tasks in the order their delay ends (one delay for all: submission
/// order). An entry whose task was stored or completed meanwhile is skipped when it comes up.
struct UnstoredCalls: Sendable {
    private var entries: [(id: String, due: MonotonicInstant)] = []
    private var head = 0

    var isEmpty: Bool { head == entries.count }

    mutating func append(_ id: String, due: MonotonicInstant) { entries.append((id, due)) }

    /// The oldest entry if its delay is over at `now` (nil: whatever its delay).
    mutating func popDue(now: MonotonicInstant?) -> String? {
        guard head < entries.count, now.map({ entries[head].due <= $0 }) ?? true else { return nil }
        let id = entries[head].id
        head += 1
        if head == entries.count {
            entries.removeAll(keepingCapacity: entries.count <= 4096)
            head = 0
        } else if head >= 4096, head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return id
    }
}
