import ZeroTaskProtocol

/// A task submission, as the client described it.
struct Submission: Sendable {
    var method: String
    var params: JSONValue
    var taskID: String?
    var timeout: Double?
    var priority: Int64 = 0
    var maxRetries: Int?
    /// Seconds the result is kept after completion; nil: the broker's `result_ttl`.
    var resultTTL: Double?
}

/// Tasks: submission, assignment, completion, cancellation.
extension BrokerState {
    static func unknownTask(_ id: String) -> RPCError { RPCError(.invalidTaskID, "unknown task \"\(id)\"") }

    /// A client's own task, or -32020: a client only sees its own tasks.
    func task(_ id: String, of clientID: String) throws(RPCError) -> TaskRecord {
        guard let t = tasks[id], t.clientID == clientID else { throw Self.unknownTask(id) }
        return t
    }

    mutating func submit(_ s: Submission, clientID: String, now: Double) throws(RPCError) -> String {
        guard Identifier.isValidMethodName(s.method), !Identifier.isReservedMethodName(s.method) else {
            throw .invalidParams("client_new_task: \"\(s.method)\" is not a valid method name")
        }
        if !unavailableIndex.isEmpty, let e = unavailableError(s.method) { throw e }
        let id: String
        if let given = s.taskID {
            id = "\(clientID)-\(given)"
            guard Identifier.isValidID(given), Identifier.isValidID(id) else {
                throw RPCError(.invalidTaskID, "task id \"\(given)\" is not a valid id")
            }
            guard tasks[id] == nil else { throw RPCError(.invalidTaskID, "task id \"\(id)\" is taken") }
        } else {
            id = "\(clientID)-\(idPrefix)\(String(nextSequence, radix: 36))"
        }
        guard queuedCount < config.maxQueued else {
            throw RPCError(.queueFull, "queue full: \(queuedCount) tasks queued (limit \(config.maxQueued)); retry later")
        }
        if let q = queues[s.method], q.liveCount >= config.maxQueuedPerMethod {
            throw RPCError(.queueFull, "queue for \(s.method) full: \(q.liveCount) tasks queued; retry later")
        }
        let task = TaskRecord(
            id: id, clientID: clientID, method: s.method, params: s.params, priority: s.priority,
            sequence: nextSequence, timeout: s.timeout, maxRetries: s.maxRetries ?? config.maxRetries,
            resultTTL: s.resultTTL, created: wallClock())
        nextSequence += 1
        tasks[id] = task
        taskChanged(id)
        counters.submitted += 1
        enqueue(task)
        return id
    }

    /// Puts a task in its method's queue; hands it straight to a node waiting for that method.
    mutating func enqueue(_ task: TaskRecord) {
        if let w = nodeWaiters.firstIndex(where: { nodes[$0.nodeID]?.methods[task.method] != nil
            && nodes[$0.nodeID]!.freeSlots > 0 })
        {
            let waiter = nodeWaiters.remove(at: w)
            assign(task.id, to: waiter.nodeID)
            var batch = [tasks[task.id]!.assignment]
            batch += pullQueued(for: waiter.nodeID, max: waiter.max - 1)
            outputs.append(.reply(waiter.route, Response(id: waiter.route.id, result: .array(batch))))
            return
        }
        queues[task.method, default: TaskQueue()].push(
            TaskQueue.Entry(priority: task.priority, sequence: task.sequence, taskID: task.id))
        queuedCount += 1
        if interest.newTask { publish(Notifications.newTask(method: task.method, taskID: task.id)) }
    }

    /// Marks a queued task as leaving its queue (the heap entry goes stale).
    mutating func dequeued(_ task: TaskRecord) {
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
        nodes[nodeID]!.assigned.insert(taskID)
        taskChanged(taskID)
    }

    /// The seed flow: a node claims one task it heard about. `nil` when it is no longer available.
    mutating func claim(_ taskID: String, nodeID: String) throws(RPCError) -> JSONValue? {
        guard let task = tasks[taskID] else { throw Self.unknownTask(taskID) }
        guard task.status == .queued, let node = nodes[nodeID], node.methods[task.method] != nil,
            node.freeSlots > 0
        else { return nil }
        dequeued(task)
        assign(taskID, to: nodeID)
        tidyQueue(task.method)
        return tasks[taskID]!.assignment
    }

    /// Takes up to `max` queued tasks the node serves, best first across its methods.
    /// Whether a queue entry still stands for a queued task (one lookup).
    func isLive(_ e: TaskQueue.Entry) -> Bool {
        guard let t = tasks[e.taskID] else { return false }
        return t.status == .queued && t.sequence == e.sequence
    }

    mutating func pullQueued(for nodeID: String, max: Int) -> [JSONValue] {
        guard let node = nodes[nodeID] else { return [] }
        var out: [JSONValue] = []
        let limit = Swift.min(max, node.freeSlots)
        let methods = Array(node.methods.keys)
        while out.count < limit {
            var best: (method: String, entry: TaskQueue.Entry)?
            for m in methods {
                guard queues[m]?.isEmpty == false else { continue }
                // Skip stale entries (claimed by id, cancelled, done elsewhere) in place: popping
                // a copy would copy the whole heap, milliseconds at a million queued.
                while let top = queues[m]!.top, !isLive(top) { queues[m]!.popTop() }
                if let top = queues[m]!.top, best == nil || top.precedes(best!.entry) { best = (m, top) }
            }
            guard let (m, entry) = best else { break }
            queues[m]!.popTop()
            dequeued(tasks[entry.taskID]!)
            assign(entry.taskID, to: nodeID)
            out.append(tasks[entry.taskID]!.assignment)
            queues[m]!.compactIfNeeded { tasks[$0]?.status == .queued }
        }
        return out
    }

    /// A node reports a result or an error. A late report from a node that lost the task is
    /// accepted when nobody else finished it first; the first outcome always stands.
    mutating func report(_ taskID: String, nodeID: String, outcome: Result<JSONValue, RPCError>, now: Double)
        throws(RPCError)
    {
        guard let task = tasks[taskID] else { throw Self.unknownTask(taskID) }
        if task.status.isComplete {
            // A cancelled task's node may still report; that is expected, not an error.
            if task.error?.code == ErrorCode.taskCancelled.rawValue { return }
            throw RPCError(.invalidTaskID, "task \"\(taskID)\" is already complete")
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
            if task.attempts <= task.maxRetries {
                if let n = task.nodeID {
                    nodes[n]?.assigned.remove(taskID)
                    nodes[n]?.unconfirmed.remove(taskID)
                }
                requeueOrFail(taskID, now: now, cause: "worker crashed")
                return
            }
            var data = e.data?.objectValue ?? JSONObject()
            if let d = e.data, d.objectValue == nil { data["cause"] = d }
            data["attempts"] = .int(Int64(task.attempts))
            outcome = .failure(RPCError(code: e.code, message: "\(e.message) (a worker crashed on each of \(task.attempts) attempts)",
                data: .object(data)))
        }
        if task.nodeID != nodeID && task.status == .queued { dequeued(task) }
        complete(taskID, now: now, outcome: outcome)
        if task.status == .queued { tidyQueue(task.method) }
    }

    /// Finishes or fails a task, frees its node slot, tells subscribers and waiting clients.
    mutating func complete(_ taskID: String, now: Double, outcome: Result<JSONValue, RPCError>) {
        guard var task = tasks[taskID] else { return }
        if let n = task.nodeID {
            nodes[n]?.assigned.remove(taskID)
            nodes[n]?.unconfirmed.remove(taskID)
        }
        switch outcome {
        case .success(let r):
            task.status = .finished
            task.result = r
            counters.finished += 1
        case .failure(let e):
            task.status = .failed
            task.error = e
            counters.failed += 1
        }
        task.finished = wallClock()
        task.completedAt = now
        tasks[taskID] = task
        taskChanged(taskID)
        resultExpiry.push(at: resultExpiresAt(task)!, taskID)
        if interest.resultReady { publish(Notifications.resultReady(taskID: taskID)) }
        answerResultWaiters(for: task)
    }

    mutating func updateStatus(_ taskID: String, nodeID: String, status: TaskStatus?, fields: JSONObject) throws(RPCError) {
        guard let task = tasks[taskID], task.nodeID == nodeID, !task.status.isComplete else {
            throw RPCError(.invalidTaskID, "task \"\(taskID)\" is not assigned to node \(nodeID)")
        }
        if let status, status == .running || status == .assigned, status != task.status {
            tasks[taskID]!.status = status
            taskChanged(taskID)
        }
        if !fields.isEmpty { tasks[taskID]!.progress = fields }
    }

    /// Cancels a task: a queued one leaves its queue, a running one fails at once and its node is told.
    mutating func cancel(_ taskID: String, clientID: String, now: Double) throws(RPCError) -> Bool {
        let task = try task(taskID, of: clientID)
        guard !task.status.isComplete else { return false }
        if task.status == .queued { dequeued(task) }
        if let n = task.nodeID, interest.cancelTask { publish(Notifications.cancelTask(nodeID: n, taskID: taskID)) }
        complete(taskID, now: now, outcome: .failure(RPCError(.taskCancelled, "task cancelled by its client")))
        if task.status == .queued { tidyQueue(task.method) }
        return true
    }

    /// A result as the client reads it, or -32050 while it is not complete.
    static func resultOutcome(_ task: TaskRecord) -> Result<JSONValue, RPCError> {
        switch task.status {
        case .finished: return .success(task.result ?? .null)
        case .failed: return .failure(task.error ?? RPCError(.internalError, "task failed"))
        default: return .failure(RPCError(.taskNotComplete, "task \"\(task.id)\" is not complete (\(task.status))"))
        }
    }

    /// One entry of a `client_wait_results` answer.
    static func resultEntry(_ task: TaskRecord) -> JSONValue {
        var o = JSONObject()
        o.append("task_id", .string(task.id))
        o.append("status", .int(task.status.rawValue))
        switch resultOutcome(task) {
        case .success(let r): o.append("result", r)
        case .failure(let e): o.append("error", e.json)
        }
        return .object(o)
    }

    mutating func answerResultWaiters(for task: TaskRecord) {
        for w in resultWaiters.take(waitingOn: task.id, clientID: task.clientID) {
            let done = w.taskIDs.compactMap { tasks[$0] }.filter { $0.status.isComplete && $0.clientID == w.clientID }
            outputs.append(.reply(w.route, Response(id: w.route.id, result: w.answer(done, tasks: tasks))))
        }
    }

    mutating func expireWaiters(now: Double) {
        nodeWaiters.removeAll { w in
            guard now >= w.deadline || nodes[w.nodeID] == nil else { return false }
            outputs.append(.reply(w.route, Response(id: w.route.id, result: .array([]))))
            return true
        }
        for w in resultWaiters.takeExpired(now: now) {
            outputs.append(.reply(w.route, Response(id: w.route.id, result: w.answer([], tasks: tasks))))
        }
    }

    /// The earliest time something is due (a long-poll deadline), for the owner's poll timeout.
    public var nextDeadline: Double? {
        let a = nodeWaiters.lazy.map(\.deadline).min()
        let b = resultWaiters.nextDeadline
        switch (a, b) {
        case let (x?, y?): return Swift.min(x, y)
        case let (x?, nil): return x
        case let (nil, y?): return y
        default: return nil
        }
    }
}
