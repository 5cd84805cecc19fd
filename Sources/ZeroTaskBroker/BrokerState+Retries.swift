import ZeroTaskProtocol

/// Retries after application errors: a task whose run failed with an error its retry policy
/// names is queued again after the policy's back-off instead of failing, and the failed run
/// is kept in its history.
///
/// The policy is the task's own (`retry` on submission), else its method's as the node that ran
/// it advertised it (the plugin manifest's `retry`). Crashes and lost nodes are not application
/// errors: `max_retries` covers those (`BrokerState+Sessions`, `report`).
extension BrokerState {
    /// The retry policy for `task`'s application errors when `nodeID` ran it; nil: none (one
    /// attempt). Read from the node's advertisement only when a run failed: no cost on success.
    func retryPolicy(for task: TaskRecord, nodeID: String) -> RetryPolicy? {
        if let own = task.spec.retry { return own }
        guard let declared = nodes[nodeID]?.methods[task.method]?["retry"] else { return nil }
        // The node's manifest reader checked it; a malformed one from a hand-written peer means none.
        return try? RetryPolicy(json: declared, field: "retry")
    }

    /// After `nodeID`, which holds the task, reported `error` for it: when the policy retries
    /// that code and attempts remain, records the attempt in the task's history, frees the
    /// node's slot and holds the task back for the back-off (true). Otherwise false, and the
    /// caller fails the task; a task that was retried before keeps this last attempt in its
    /// history too.
    mutating func retryAfterFailure(_ taskID: String, nodeID: String, error: RPCError, now: MonotonicInstant) -> Bool {
        guard var task = tasks[taskID], let policy = retryPolicy(for: task, nodeID: nodeID) else { return false }
        // Failed runs counted by the policy: the ones retried so far and this one. (`attempts`
        // also counts runs lost with a node or a crashed worker.)
        let failedRuns = task.history.count + 1
        let wallNow = wallClock()
        let attempt = FailedAttempt(attempt: task.attempts, nodeID: nodeID, error: error, at: wallNow)
        guard error.code != ErrorCode.taskCancelled.rawValue, policy.retries(code: error.code, after: failedRuns) else {
            if !task.history.isEmpty {
                task.history.append(attempt)
                tasks[taskID] = task  // stored with the failure that follows
            }
            return false
        }
        // Its node's slot and its method's concurrency place are free while it backs off.
        leftNode(task)
        let wait = policy.delay(after: failedRuns, random: Double.random(in: 0..<1))
        task.recordStart(of: nodeID)  // the next start overwrites `started`; the failure is in `history`
        task.history.append(attempt)
        task.status = .queued
        task.nodeID = nil
        task.progress = nil
        task.notBefore = wallNow + wait
        tasks[taskID] = task
        taskChanged(taskID)
        counters.retried += 1
        observer?.taskRetried(method: task.method)  // metrics
        events.append(.taskRequeued(taskID: taskID, method: task.method,  // logged, rate-limited
            cause: "attempt \(task.attempts) failed with \(error.code) (\(error.message)); retry \(failedRuns) of \(policy.maxAttempts - 1) in \(SecondsText.format(wait))"))
        if wait > 0 { holdBack(taskID, until: now + wait) } else { enqueue(task, now: now) }
        return true
    }
}

extension TaskRecord {
    /// Runs that ended other than by an application error the retry policy retried: the ones
    /// `max_retries` (crashes, lost nodes) counts against.
    var unplannedAttempts: Int { attempts - history.count }
}
