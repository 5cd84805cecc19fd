import ZeroTaskProtocol

/// A task submission, as the client described it.
struct Submission: Sendable, Equatable {
    var spec: TaskSpec
    /// The client's own id for the task (the broker makes one up when nil).
    var taskID: String?
    /// nil: the broker's `max_retries`.
    var maxRetries: Int?
    /// `not_before` or `delay`; nil: at once. Resolved to the spec's `notBefore` on submission.
    var start: SubmissionStart? = nil

    init(method: String, params: JSONValue, taskID: String? = nil, timeout: Double? = nil, priority: Int64 = 0,
        maxRetries: Int? = nil, resultTTL: Double? = nil, tags: [String] = [])
    {
        spec = TaskSpec(method: method, params: params, priority: priority, timeout: timeout, resultTTL: resultTTL, tags: tags)
        self.taskID = taskID
        self.maxRetries = maxRetries
    }

    /// -32602 naming the broker's cap when it asks for more retries, a longer timeout or a
    /// longer result lifetime than `config` allows.
    /// - Parameter method: the request (or entry) to name in the error.
    func check(_ config: BrokerConfig, method: String) throws(RPCError) {
        if let maxRetries, maxRetries > config.maxTaskRetries {
            throw .invalidParams("\(method): param \"max_retries\" (\(maxRetries)) exceeds the broker's max_task_retries (\(config.maxTaskRetries))")
        }
        func capped(_ name: String, _ value: Double?, _ cap: Double, _ setting: String) throws(RPCError) {
            guard let value, value > cap else { return }
            throw .invalidParams("\(method): param \"\(name)\" (\(value) s) exceeds the broker's \(setting) (\(cap) s)")
        }
        try capped("timeout", spec.timeout, config.maxTaskTimeout, "max_task_timeout")
        try capped("result_ttl", spec.resultTTL, config.maxResultTTL, "max_result_ttl")
    }
}

/// Tasks: submission, assignment, completion, cancellation.
extension BrokerState {
    /// A client's own task (any task for an admin), or -32020: a client only sees its own
    /// tasks, and another's are as unknown as ids never used.
    func task(_ id: String, of clientID: String, _ tenancy: Tenancy) throws(BrokerError) -> TaskRecord {
        guard let t = tasks[id], tenancy.mayRead(taskOf: t.clientID, as: clientID) else { throw .unknownTask(id) }
        return t
    }

    /// Queues a task and returns its id. A task id the client chose that names one of its own
    /// tasks with the same method and params is a resend, not a new task: its id comes back and
    /// nothing changes (clients resend with the same id after failing over to another broker).
    /// The same id with a different method or params, or another client's, is -32020.
    mutating func submit(_ submission: Submission, clientID: String, now: MonotonicInstant) throws(BrokerError) -> String {
        let s = submission.spec
        guard Identifier.isValidMethodName(s.method), !Identifier.isReservedMethodName(s.method) else {
            throw .invalidParams("client_new_task: \"\(s.method)\" is not a valid method name")
        }
        let id: String
        if let given = submission.taskID {
            id = "\(clientID)-\(given)"
            guard Identifier.isValidID(given), Identifier.isValidID(id) else {
                throw .invalidTaskID(given)
            }
            if let existing = tasks[id] {
                // A resend (the client failed over before it heard the reply) is idempotent.
                guard existing.isResubmission(of: s, by: clientID) else { throw .taskIDTaken(id) }
                return id
            }
        } else {
            id = "\(clientID)-\(idPrefix)\(String(nextSequence, radix: 36))"
        }
        // After the resend check: a task accepted before its method's plugin was quarantined
        // still answers a resend with its id.
        if !unavailableIndex.isEmpty, let e = unavailableError(s.method) { throw e }
        guard queuedCount + delayed.count < config.maxQueued else {
            throw .queueFull("queue full: \(queuedCount + delayed.count) tasks queued (limit \(config.maxQueued)); retry later")
        }
        if let q = queues[s.method], q.liveCount >= config.maxQueuedPerMethod {
            throw .queueFull("queue for \(s.method) full: \(q.liveCount) tasks queued; retry later")
        }
        let paramsBytes = s.params.approximateByteCount
        guard pendingBytes + paramsBytes <= config.maxQueuedBytes else {
            if paramsBytes > config.maxQueuedBytes {
                throw .invalidParams("client_new_task: params of \(paramsBytes) bytes exceed max_queued_bytes (\(config.maxQueuedBytes)) on their own")
            }
            throw .queueFull("queue full: pending tasks hold \(pendingBytes) bytes of params (max_queued_bytes \(config.maxQueuedBytes)); retry later")
        }
        let wallNow = wallClock()
        var spec = s
        if let start = submission.start { spec.notBefore = start.notBefore(wallNow: wallNow) }
        let task = TaskRecord(
            id: id, clientID: clientID, spec: spec, sequence: nextSequence, maxRetries: submission.maxRetries ?? config.maxRetries,
            created: wallNow)
        nextSequence += 1
        tasks[id] = task
        taskChanged(id)
        pendingBytes += task.paramsBytes
        clients.countPending(clientID, by: 1)
        counters.submitted += 1
        observer?.taskSubmitted(method: s.method)  // metrics
        if shared != nil {
            submittedShared(task, clientChose: submission.taskID != nil, now: now, wallNow: wallNow)
        } else {
            enqueueOrHold(task, now: now, wallNow: wallNow)
        }
        return id
    }

    /// Puts a task in its method's queue; hands it straight to a node waiting for that method
    /// (one with the task's tags) unless the method is held back (paused or limited: then the
    /// queue reopens at the end of the turn, through the gate).
    mutating func enqueue(_ task: TaskRecord, now: MonotonicInstant) {
        if shared != nil, enqueueShared(task) { return }
        let tags = task.tags
        if !isHeldBack(task.method), let waiter = nodeWaiters.takeFirst(for: task.method, where: { w in
            nodes[w.nodeID].map { $0.freeSlots > 0 && (tags.isEmpty || tags.allSatisfy($0.tags.contains)) } ?? false
        }) {
            assign(task.id, to: waiter.nodeID)
            var batch = [tasks[task.id]!.assignment]
            batch += pullQueued(for: waiter.nodeID, max: waiter.max - 1, now: now)
            outputs.append(.reply(waiter.route, .assignments(batch)))
            return
        }
        queueHere(task)
    }

    /// Puts a task in its method's queue, for the next pull (no parked node is looked at).
    mutating func queueHere(_ task: TaskRecord) {
        queues[task.method, default: TaskQueue()].push(
            TaskQueue.Entry(priority: task.priority, sequence: task.sequence, taskID: task.id), tags: task.tags)
        queuedCount += 1
        if isHeldBack(task.method) { limits.due.insert(task.method) }
        if interest.newTask { publish(.newTask(method: task.method, taskID: task.id)) }
        if interest.taskReady { publish(.taskReady(method: task.method, taskID: task.id)) }
    }

    /// Marks a queued task as leaving its queue (the heap entry goes stale).
    mutating func dequeued(_ task: TaskRecord) {
        if task.waitingUntil != nil { return leftDelay(task.id) }  // held back, in no queue
        queues[task.method]?.liveCount -= 1
        queuedCount -= 1
    }

    /// After a task left its queue other than from the top (claimed by id, cancelled, finished
    /// elsewhere): a queue with nothing live is dropped, and stale entries are compacted away
    /// once they outnumber live ones. Pulls skip stale entries at the top, but a queue nobody
    /// pulls from (seed-flow nodes claim by id; a method no node serves) would otherwise keep
    /// every task it ever held, and every method name a client ever made up.
    mutating func tidyQueue(_ method: String) {
        guard let q = queues[method] else { return }
        if q.liveCount <= 0 {
            queues[method] = nil
        } else {
            queues[method]!.compactIfNeeded { tasks[$0]?.status == .queued }
        }
    }

    mutating func assign(_ taskID: String, to nodeID: String) {
        tasks[taskID]!.status = .assigned
        tasks[taskID]!.nodeID = nodeID
        tasks[taskID]!.attempts += 1
        tasks[taskID]!.started = wallClock()
        if let observer, let t = tasks[taskID] {  // metrics
            // A delayed task waits from its not_before (the monotonic wait may end a hair before the wall clock's).
            observer.taskStarted(method: t.method, queueWait: t.attempts == 1 ? max(0, t.started! - max(t.created, t.notBefore ?? 0)) : nil)
        }
        nodes.assign(taskID, to: nodeID)
        taskChanged(taskID)
    }

    /// The seed flow: a node claims one task it heard about. `nil` when it is no longer available.
    /// A seed node (one that advertised nothing) may claim any method; others only theirs.
    mutating func claim(_ taskID: String, nodeID: String, now: MonotonicInstant) throws(BrokerError) -> TaskAssignment? {
        guard let task = tasks[taskID] else { throw .unknownTask(taskID) }
        guard task.status == .queued, task.waitingUntil == nil, let node = nodes[nodeID], node.servesAny || node.methods[task.method] != nil,
            node.freeSlots > 0, task.tags.allSatisfy(node.tags.contains), mayStart(task.method, now: now)
        else { return nil }
        dequeued(task)
        assign(taskID, to: nodeID)
        tidyQueue(task.method)
        return tasks[taskID]!.assignment
    }

    /// Whether a queue entry still stands for a queued task (one lookup).
    func isLive(_ e: TaskQueue.Entry) -> Bool {
        guard let t = tasks[e.taskID] else { return false }
        return t.status == .queued && t.sequence == e.sequence && t.waitingUntil == nil
    }

    /// Takes up to `max` queued tasks the node serves, best first across its methods.
    ///
    /// The methods with work are found once, and their queues' best entries compete in a heap:
    /// O((methods + tasks) · log methods). (Scanning every method for every task was quadratic
    /// for a node serving thousands of methods.) Each method's queue competes with the lanes
    /// whose tags the node has; a method that is paused or at its limit (`mayStart`, O(1)) drops
    /// out of the pull.
    mutating func pullQueued(for nodeID: String, max: Int, now: MonotonicInstant) -> [TaskAssignment] {
        guard let node = nodes[nodeID] else { return [] }
        let limit = Swift.min(max, node.freeSlots)
        guard limit > 0 else { return [] }
        let checkLimits = !limits.isEmpty
        var fronts = BinaryHeap<QueueFront>()
        for m in node.methods.keys {
            // No copy of the queue is held here: liveTop pops in place, and a second reference
            // to a lane's heap would make that pop copy the whole heap.
            guard let lanes = queues[m]?.laneCount else { continue }
            if checkLimits && limits.paused.contains(m) { continue }
            for lane in 0..<lanes where lane == 0 || queues[m]!.lane(lane, admits: node.tags) {
                if let top = liveTop(m, lane: lane) { fronts.push(QueueFront(entry: top, method: m, lane: lane)) }
            }
        }
        var out: [TaskAssignment] = []
        while out.count < limit, let best = fronts.first {
            let m = best.method
            if checkLimits && !mayStart(m, now: now) {
                fronts.popFirst()
                continue
            }
            queues[m]!.popTop(lane: best.lane)
            dequeued(tasks[best.entry.taskID]!)
            assign(best.entry.taskID, to: nodeID)
            out.append(tasks[best.entry.taskID]!.assignment)
            queues[m]!.compactIfNeeded { tasks[$0]?.status == .queued }
            if let next = liveTop(m, lane: best.lane) {
                fronts.replaceFirst(with: QueueFront(entry: next, method: m, lane: best.lane))
            } else {
                fronts.popFirst()
            }
        }
        return out
    }

    /// The best live entry of a lane of a method's queue, stale entries above it dropped in
    /// place (popping a copy would copy the whole heap, milliseconds at a million queued).
    mutating func liveTop(_ method: String, lane: Int) -> TaskQueue.Entry? {
        guard queues[method]?.isEmpty == false else { return nil }
        while let top = queues[method]!.top(lane: lane), !isLive(top) { queues[method]!.popTop(lane: lane) }
        return queues[method]!.top(lane: lane)
    }

    /// A node reports a result or an error. A late report from a node that lost the task is
    /// accepted when nobody else finished it first; the first outcome always stands.
    mutating func report(_ taskID: String, nodeID: String, outcome: Result<JSONValue, RPCError>, now: MonotonicInstant)
        throws(BrokerError)
    {
        guard let task = tasks[taskID] else { throw .unknownTask(taskID) }
        // Only a node that holds (or held) the task speaks of it: no forged results.
        guard task.nodeID == nodeID || task.lostBy.contains(nodeID) else { throw .notAssigned(taskID: taskID, nodeID: nodeID) }
        if task.status.isComplete {
            // A cancelled task's node may still report; that is expected, not an error.
            if task.error?.code == ErrorCode.taskCancelled.rawValue { return }
            throw .taskComplete(taskID)
        }
        // A node that no longer holds the task (presumed dead, the task since queued again or
        // running elsewhere) may still deliver a result: the first result stands. Its failures
        // are its own (a crash, a timeout, a cancel it made up when it found the task gone) and
        // must neither fail the task nor take it from the node that holds it now.
        if task.nodeID != nodeID, case .failure = outcome { return }
        var outcome = outcome
        if case .failure(let e) = outcome, e.code == ErrorCode.workerCrashed.rawValue {
            // A crash may be the machine's fault (memory, a bad node), so the task runs again, up
            // to max_retries; a poison task that kills every worker it gets fails instead of looping.
            if task.status == .queued { return }  // already waiting for its next attempt
            if task.unplannedAttempts <= task.maxRetries {
                nodes.unassign(taskID, from: task.nodeID)
                requeueOrFail(taskID, now: now, cause: "worker crashed")
                return
            }
            var data = e.data?.objectValue ?? JSONObject()
            if let d = e.data, d.objectValue == nil { data["cause"] = d }
            data["attempts"] = .int(Int64(task.attempts))
            outcome = .failure(RPCError(code: e.code, message: "\(e.message) (a worker crashed on each of \(task.attempts) attempts)",
                data: .object(data)))
        }
        if case .failure(let e) = outcome, task.nodeID == nodeID, retryAfterFailure(taskID, nodeID: nodeID, error: e, now: now) {
            return  // tried again after its back-off (BrokerState+Retries)
        }
        if task.nodeID != nodeID && task.status == .queued { dequeued(task) }
        complete(taskID, now: now, outcome: outcome)
        if task.status == .queued { tidyQueue(task.method) }
    }

    /// Finishes or fails a task, frees its node slot, tells subscribers and waiting clients.
    mutating func complete(_ taskID: String, now: MonotonicInstant, outcome: Result<JSONValue, RPCError>) {
        guard var task = tasks[taskID] else { return }
        leftNode(task)
        switch outcome {
        case .success(let r):
            task.status = .finished
            task.result = r
            counters.finished += 1
        case .failure(let e):
            task.status = .failed
            task.error = e
            counters.failed += 1
            events.append(.taskFailed(taskID: taskID, method: task.method, code: e.code, message: e.message))  // logged, rate-limited
        }
        task.finished = wallClock()
        task.completedAt = now
        if shared != nil { shared!.remoteOpen.remove(taskID) }
        observer?.taskCompleted(method: task.method, outcome: task.outcome, runSeconds: task.started.map { task.finished! - $0 })  // metrics
        // A finished task never runs again: its params are dead weight (1 MiB each, kept for a
        // day). A failed or cancelled one keeps them, so that an admin can retry it; they count
        // against the result budget then (`resultBytes`).
        pendingBytes -= task.paramsBytes
        if task.status == .finished && !task.keepsParams { task.params = .null }
        task.resultBytes = Self.resultBytes(task)
        clients.countPending(task.clientID, by: -1)
        tasks[taskID] = task
        taskChanged(taskID)
        keepResult(task)
        if interest.resultReady { publish(.resultReady(taskID: taskID)) }
        answerResultWaiters(for: task)
        evictResultsOverBudget()
        if !workflowOf.isEmpty || task.method == Workflow.method { workflowTaskCompleted(task, now: now) }
    }

    /// What a completed task's result or error takes, for `max_result_bytes`, with what keeping
    /// any task costs besides (its record, id, table and heap entries): measured at about 500
    /// bytes a task over repeated `zerotask bench` runs (BENCHMARKS.md, "Memory under attack"),
    /// so tiny results are bounded by the byte budget too, not only by `max_results`.
    /// A failed task's kept params count too, and so do the errors of its retried attempts and
    /// its recorded events.
    static func resultBytes(_ t: TaskRecord) -> Int {
        ResultBudget.recordOverhead + (t.result?.approximateByteCount ?? t.error?.json.approximateByteCount ?? 0)
            + (t.params.isNull ? 0 : t.paramsBytes) + t.history.reduce(0) { $0 + 48 + $1.error.json.approximateByteCount }
            + t.events.reduce(0) { $0 + 64 + ($1.detail?.utf8.count ?? 0) + ($1.progress.map { JSONValue.object($0).approximateByteCount } ?? 0) }
    }

    /// Counts a completed task's result against the budgets and schedules its expiry.
    mutating func keepResult(_ t: TaskRecord) {
        results.added(t.id, completedAt: t.completedAt!, bytes: t.resultBytes, failed: t.status == .failed)
        resultExpiry.push(at: resultExpiresAt(t)!, t.id)
    }

    /// Deletes a completed task and its result (expired or evicted).
    mutating func forgetResult(_ taskID: String) {
        guard let t = tasks.removeValue(forKey: taskID) else { return }
        results.removed(bytes: t.resultBytes, failed: t.status == .failed)
        taskChanged(taskID)
        dropStaleResultEntries()
    }

    /// Whether an entry of the result budget's FIFO stands for a result kept now: its task is
    /// complete since that very completion (not gone, nor reused, nor sent back to its queue).
    static func isKept(_ e: ResultBudget.Entry, in tasks: [String: TaskRecord]) -> Bool {
        guard let t = tasks[e.taskID] else { return false }
        return t.status.isComplete && t.completedAt == e.completedAt
    }

    /// Drops the FIFO entries of results that left other than by eviction (expired, deleted
    /// with their workflow, retried, claimed back) once they are most of it: otherwise each
    /// task completed would leave one behind for good (about 130 bytes a task).
    mutating func dropStaleResultEntries() {
        guard results.isMostlyStale else { return }
        let tasks = tasks
        results.retain { Self.isKept($0, in: tasks) }
    }

    /// Deletes the oldest results while more are kept than `max_results` or `max_result_bytes`
    /// allow (the results just answered to waiting clients are among the newest).
    mutating func evictResultsOverBudget() {
        guard results.isOver(maxCount: config.maxResults, maxBytes: config.maxResultBytes) else { return }
        while results.isOver(maxCount: config.maxResults, maxBytes: config.maxResultBytes), let e = results.popOldest() {
            guard Self.isKept(e, in: tasks) else { continue }
            forgetResult(e.taskID)
            results.countEviction()
        }
        // Evicted results leave their expiry entries behind (due in a day): drop those once
        // they dominate, or the heap would grow by one entry per completion at the cap.
        if resultExpiry.count > 1024 && resultExpiry.count > 2 * results.count {
            let defaultTTL = config.resultTTL, tasks = tasks
            resultExpiry.retain { e in
                guard let t = tasks[e.key], t.status.isComplete else { return false }
                return Self.resultExpiresAt(t, defaultTTL: defaultTTL) == e.at
            }
        }
    }

    /// One event for the evictions since the last report, at most every `interval` seconds: at
    /// the cap every completion evicts one result, and a log line each would flood the log.
    mutating func reportEvictions(now: MonotonicInstant, interval: Double = 10) {
        let n = results.evicted - results.reportedEvictions
        guard n > 0, now - results.lastReport >= interval else { return }
        results.reportedEvictions = results.evicted
        results.lastReport = now
        events.append(.resultsEvicted(count: n, kept: results.count, bytes: results.bytes))
    }

    mutating func updateStatus(_ taskID: String, nodeID: String, status: TaskStatus?, fields: JSONObject) throws(BrokerError) {
        guard let task = tasks[taskID], task.nodeID == nodeID, !task.status.isComplete else {
            throw .notAssigned(taskID: taskID, nodeID: nodeID)
        }
        if let status, status == .running || status == .assigned, status != task.status {
            tasks[taskID]!.status = status
            taskChanged(taskID)
        }
        if !fields.isEmpty {
            tasks[taskID]!.progress = fields
            // Sampled for the timeline from an attempt's second report on, at most one a second
            // (the first, the worker the node chose, comes with every task: the hot path neither
            // reads the clock nor records for it; the record's `progress` shows the latest).
            guard task.progress != nil else { return }
            let wall = wallClock()
            if task.events.wantsProgress(at: wall, attempt: task.attempts, since: task.started) {
                tasks[taskID]!.events.record(TaskEvent(.progress, at: wall, attempt: task.attempts, nodeID: nodeID, progress: fields))
            }
        }
    }

    /// Cancels a task: a queued one leaves its queue, a running one fails at once and its node is told.
    mutating func cancel(_ taskID: String, clientID: String, _ tenancy: Tenancy, now: MonotonicInstant) throws(BrokerError) -> Bool {
        let task = try task(taskID, of: clientID, tenancy)
        guard !task.status.isComplete else { return false }
        cancel(task, now: now, by: "its client")
        return true
    }

    /// Cancels a task that is not complete; `by` says who, in the task's error.
    mutating func cancel(_ task: TaskRecord, now: MonotonicInstant, by who: String) {
        if task.status == .queued { dequeued(task) }
        if let n = task.nodeID, interest.cancelTask { publish(.cancelTask(nodeID: n, taskID: task.id)) }
        complete(task.id, now: now, outcome: .failure(RPCError(.taskCancelled, "task cancelled by \(who)")))
        if task.status == .queued { tidyQueue(task.method) }
    }

    /// A result as the client reads it, or -32050 while it is not complete.
    static func resultOutcome(_ task: TaskRecord, _ tenancy: Tenancy) -> Result<JSONValue, RPCError> {
        switch task.status {
        case .finished: return .success(task.result ?? .null)
        case .failed: return .failure(task.error ?? RPCError(.internalError, "task failed"))
        default: return .failure(RPCError(.taskNotComplete, "task \"\(tenancy.outside(task.id))\" is not complete (\(task.status))"))
        }
    }

    /// One entry of a `client_wait_results` answer, as the client names the task.
    static func resultEntry(_ task: TaskRecord, _ tenancy: Tenancy) -> TaskResultEntry {
        TaskResultEntry(taskID: tenancy.outside(task.id), status: task.status, outcome: resultOutcome(task, tenancy))
    }

    mutating func answerResultWaiters(for task: TaskRecord) {
        for w in resultWaiters.take(waitingOn: task.id, clientID: task.clientID) {
            let done = w.taskIDs.compactMap { tasks[$0] }.filter {
                $0.status.isComplete && w.tenancy.mayRead(taskOf: $0.clientID, as: w.clientID)
            }
            outputs.append(.reply(w.route, w.answer(Array(fittingReply(done)), tasks: tasks)))
        }
    }

    /// The completed tasks of a wait's answer that fit in `max_message_bytes` (at least one):
    /// 10,000 large results must not make one reply of gigabytes. The others stay kept, and the
    /// next wait for them gets them.
    func fittingReply(_ done: [TaskRecord]) -> ArraySlice<TaskRecord> {
        var bytes = 0
        for (i, t) in done.enumerated() {
            bytes += t.resultBytes - ResultBudget.recordOverhead + t.id.utf8.count + 48
            if bytes > config.maxMessageBytes && i > 0 { return done[..<i] }
        }
        return done[...]
    }

    mutating func expireWaiters(now: MonotonicInstant) {
        for w in nodeWaiters.takeExpired(now: now) {
            outputs.append(.reply(w.route, .assignments([])))
        }
        for w in resultWaiters.takeExpired(now: now) {
            storeNamed(by: w)
            outputs.append(.reply(w.route, w.answer([], tasks: tasks)))
        }
    }

    /// The earliest time something is due (a long-poll deadline, a schedule's tick), for the
    /// owner's poll timeout.
    public var nextDeadline: MonotonicInstant? {
        // Read on every loop turn: compared in place, no array built for it. A rate-limited
        // method's next token is a deadline too: its queue must not stall.
        func earlier(_ a: MonotonicInstant?, _ b: MonotonicInstant?) -> MonotonicInstant? {
            guard let a else { return b }
            guard let b else { return a }
            return Swift.min(a, b)
        }
        return earlier(earlier(earlier(nodeWaiters.nextDeadline, resultWaiters.nextDeadline), earlier(nextDelayedDue, nextLimitWake)),
            scheduleDeadline)
    }
}

/// A method's best queued task, competing with other methods' in a pull.
struct QueueFront: HeapOrdered {
    var entry: TaskQueue.Entry
    var method: String
    var lane: Int
    func precedes(_ other: QueueFront) -> Bool { entry.precedes(other.entry) }
}
