import ZeroTaskProtocol

/// Workflows (`client_new_workflow`): chains, groups and groups with a callback, run by the
/// broker as ordinary tasks behind one record (`Workflow`).
///
/// The rules: a workflow's record is created running and never queued; its tasks are submitted
/// as the client's own, through `submit` with all its limits; each task's completion moves the
/// workflow on (`workflowTaskCompleted`, called at the end of `complete`); the workflow's own
/// completion (finished, failed, cancelled) cancels whatever of its tasks is still pending.
extension BrokerState {
    /// Starts a workflow for `clientID`; its id. All or nothing: when one of its first tasks is
    /// refused (queue full, a method a node declared unavailable), nothing is left behind.
    /// - Throws: -32602 for a task past the broker's caps (`max_delay` too), `BrokerError` as `submit` does.
    mutating func startWorkflow(_ workflow: Workflow, taskID given: String?, clientID: String, now: MonotonicInstant) throws -> String {
        let name = BrokerMethod.clientNewWorkflow.rawValue
        guard workflow.taskCount <= config.maxBatchEntries else {
            throw RPCError.invalidParams("\(name): a workflow of \(workflow.taskCount) tasks exceeds max_batch_entries (\(config.maxBatchEntries))")
        }
        for i in 0..<workflow.taskCount {
            // A chain's later steps and a callback get an input first: checked with a stand-in.
            let takesInput = workflow.kind == .chain ? i > 0 : i == workflow.tasks.count
            guard let s = workflow.submission(i, input: takesInput ? .null : nil) else {
                throw RPCError.invalidParams("\(name): task \(i + 1) cannot be read")
            }
            let entry = i < workflow.tasks.count ? "\(name): tasks[\(i)]" : "\(name): callback"
            try s.check(config, method: entry)
            // A step's delay counts from its own submission: checked against max_delay as it is.
            try s.checkStart(config, wallNow: wallClock(), method: entry)
        }
        let id: String
        if let given {
            id = "\(clientID)-\(given)"
            guard Identifier.isValidID(given), Identifier.isValidID(id + workflow.childSuffix(workflow.tasks.count)) else {
                throw BrokerError.invalidTaskID(given)
            }
            if let existing = tasks[id] {
                // The same workflow sent again (a client that got no reply resends it): the same id.
                if existing.clientID == clientID, existing.method == Workflow.method,
                    let kept = existing.workflow, kept.kind == workflow.kind, kept.tasks == workflow.tasks,
                    kept.callback == workflow.callback
                {
                    return id
                }
                throw BrokerError.taskIDTaken(id)
            }
        } else {
            id = "\(clientID)-\(idPrefix)\(String(nextSequence, radix: 36))"
        }
        let wall = wallClock()
        var record = TaskRecord(
            id: id, clientID: clientID, spec: TaskSpec(method: Workflow.method, params: workflow.json), status: .running,
            sequence: nextSequence, maxRetries: 0, created: wall, started: wall)
        record.workflow = workflow
        nextSequence += 1
        tasks[id] = record
        taskChanged(id)
        pendingBytes += record.paramsBytes
        clients.countPending(clientID, by: 1)
        do {
            switch workflow.kind {
            case .chain: try startTasks(0..<1, of: id, input: nil, now: now)
            case .group: try startTasks(workflow.tasks.indices, of: id, input: nil, now: now)
            }
        } catch {
            // Undo: the tasks started so far are cancelled and forgotten with the workflow.
            let started = self.workflow(id)?.children ?? []
            complete(id, now: now, outcome: .failure(RPCError(.taskCancelled, "workflow refused")))
            for child in started { forgetResult(child) }
            forgetResult(id)
            throw error
        }
        return id
    }

    /// The workflow a record holds, when it is one.
    func workflow(_ id: String) -> Workflow? { tasks[id]?.workflow }

    /// Submits tasks `indices` of workflow `parentID` as the workflow's client, with `input` as
    /// their first param when given, and records them as the workflow's. The record is read and
    /// written once for them all (once per task, a group's start took time quadratic in its
    /// size); when one is refused, the ones started before it are recorded all the same.
    private mutating func startTasks(_ indices: Range<Int>, of parentID: String, input: JSONValue?, now: MonotonicInstant) throws {
        guard let parent = tasks[parentID], var workflow = parent.workflow else { throw BrokerError.unknownTask(parentID) }
        let given = String(parentID.dropFirst(parent.clientID.count + 1))
        if workflow.kind == .group && workflow.results.count < workflow.tasks.count {
            workflow.results = Array(repeating: .null, count: workflow.tasks.count)
        }
        defer { save(workflow, in: parentID) }
        for index in indices {
            guard var submission = workflow.submission(index, input: input) else { throw BrokerError.unknownTask(parentID) }
            submission.taskID = given + workflow.childSuffix(index)
            let child = try submit(submission, clientID: parent.clientID, now: now)
            workflowOf[child] = parentID
            workflow.children.append(child)
        }
    }

    /// Keeps `workflow` decoded in its record (no encoding here: the store's write encodes it).
    private mutating func save(_ workflow: Workflow, in id: String) {
        tasks[id]?.workflow = workflow
        taskChanged(id)
    }

    /// After `task` completed: moves its workflow on, or, when `task` is a workflow itself,
    /// cancels what it still has pending.
    mutating func workflowTaskCompleted(_ task: TaskRecord, now: MonotonicInstant) {
        if let parentID = workflowOf.removeValue(forKey: task.id) {
            advance(parentID, after: task, now: now)
        }
        if let workflow = task.workflow {
            for child in workflow.children {
                guard workflowOf.removeValue(forKey: child) != nil, let t = tasks[child], !t.status.isComplete else { continue }
                cancel(t, now: now, by: "its workflow (\(task.error?.message ?? "finished"))")
            }
        }
    }

    /// A task of workflow `parentID` completed: the next step, the callback, or the end.
    private mutating func advance(_ parentID: String, after child: TaskRecord, now: MonotonicInstant) {
        guard let parent = tasks[parentID], !parent.status.isComplete, var workflow = parent.workflow,
            let index = workflow.position(of: child.id, in: parentID)
        else { return }
        let position = index < workflow.tasks.count ? "task \(index + 1) of \(workflow.tasks.count)" : "callback"
        guard child.status == .finished else {
            let e = child.error ?? RPCError(.internalError, "task failed")
            var data = JSONObject()
            data.append("workflow", .string(workflow.kind.rawValue))
            data.append("step", index < workflow.tasks.count ? .int(Int64(index + 1)) : .string("callback"))
            data.append("method", .string(child.method))
            if let d = e.data { data.append("cause", d) }
            complete(parentID, now: now, outcome: .failure(RPCError(
                code: e.code, message: "\(workflow.kind.rawValue) \(position) (\(child.method)) failed: \(e.message)", data: .object(data))))
            return
        }
        let result = child.result ?? .null
        var next: (index: Int, input: JSONValue)?
        switch workflow.kind {
        case .chain:
            if index + 1 < workflow.tasks.count { next = (index + 1, result) }
        case .group:
            if index < workflow.tasks.count {
                workflow.results[index] = result
                workflow.done += 1
                save(workflow, in: parentID)
                guard workflow.done == workflow.tasks.count else { return }
                if workflow.callback != nil { next = (workflow.tasks.count, .array(workflow.results)) }
            }
        }
        guard let next else {
            let outcome = workflow.kind == .group && workflow.callback == nil ? JSONValue.array(workflow.results) : result
            complete(parentID, now: now, outcome: .success(outcome))
            return
        }
        do {
            try startTasks(next.index..<next.index + 1, of: parentID, input: next.input, now: now)
        } catch {
            let e = Self.rpcError(error)
            let what = next.index < workflow.tasks.count ? "task \(next.index + 1)" : "the callback"
            complete(parentID, now: now, outcome: .failure(RPCError(
                code: e.code, message: "\(workflow.kind.rawValue): \(what) could not be queued: \(e.message)", data: e.data)))
        }
    }

    /// After a restart (`restore`): the workflows still running find their pending tasks again.
    /// A task's completion and the step it caused are written in one commit, so a workflow never
    /// comes back with a completed task it did not act on.
    mutating func restoreWorkflows(_ running: [String]) {
        for id in running {
            // Decoded once here, then kept decoded in the record.
            guard let workflow = workflow(id) else { continue }
            tasks[id]?.workflow = workflow
            for child in workflow.children where tasks[child]?.status.isComplete == false {
                workflowOf[child] = id
            }
        }
    }
}

extension Workflow {
    /// What `client_task_info` shows of a workflow: its kind and its tasks' ids so far.
    func summary(_ tenancy: Tenancy) -> JSONValue {
        var o = JSONObject()
        o.append("kind", .string(kind.rawValue))
        o.append("tasks", .int(Int64(tasks.count)))
        if callback != nil { o.append("callback", true) }
        o.append("task_ids", .array(children.map { .string(tenancy.outside($0)) }))
        return .object(o)
    }
}
