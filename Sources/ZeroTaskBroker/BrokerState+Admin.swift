import ZeroTaskProtocol

/// Which tasks an operator means: the filters of `admin_tasks`, `admin_retry` and `admin_cancel`.
/// Every filter left nil matches every task; the ones given must all match.
public struct AdminTaskQuery: Sendable, Equatable {
    /// What the operator sees a task as: its status, with a failed task cancelled by its
    /// client (or an admin) told apart as `cancelled`.
    public enum State: String, Sendable, CaseIterable {
        case queued, assigned, running, finished, failed, cancelled
    }

    public var state: State?
    public var method: String?
    public var clientID: String?
    public var nodeID: String?
    /// Submitted at or after / before this wall-clock time (seconds since 1970).
    public var since: WallInstant?
    public var until: WallInstant?
    /// Found in the params (as JSON text) or in the error's message.
    public var text: String?
    /// At most this many tasks in one answer.
    public var limit = 50
    /// Only tasks submitted before the one with this sequence: the `next_cursor` of the page before.
    public var cursor: UInt64?

    public static let maxLimit = 1000

    public init(
        state: State? = nil, method: String? = nil, clientID: String? = nil, nodeID: String? = nil, since: WallInstant? = nil,
        until: WallInstant? = nil, text: String? = nil, limit: Int = 50, cursor: UInt64? = nil
    ) {
        self.state = state
        self.method = method
        self.clientID = clientID
        self.nodeID = nodeID
        self.since = since
        self.until = until
        self.text = text
        self.limit = limit
        self.cursor = cursor
    }

    /// Whether a task passes every filter (the cursor included). The cheap filters go first:
    /// the text is looked for only in tasks that passed the others.
    func matches(_ t: TaskRecord) -> Bool {
        if let cursor, t.sequence >= cursor { return false }
        if let state, AdminTaskQuery.State(t) != state { return false }
        if let method, t.method != method { return false }
        if let clientID, t.clientID != clientID { return false }
        if let nodeID, t.nodeID != nodeID && !t.lostBy.contains(nodeID) { return false }
        if let since, t.created < since { return false }
        if let until, t.created >= until { return false }
        if let text, !text.isEmpty {
            let inParams = !t.params.isNull && String(decoding: t.params.jsonBytes, as: UTF8.self).contains(text)
            if !inParams && !(t.error?.message.contains(text) ?? false) { return false }
        }
        return true
    }
}

extension AdminTaskQuery.State {
    init(_ t: TaskRecord) {
        switch t.status {
        case .queued: self = .queued
        case .assigned: self = .assigned
        case .running: self = .running
        case .finished: self = .finished
        case .failed: self = t.outcome == .cancelled ? .cancelled : .failed
        }
    }
}

/// Operations on every client's tasks: list and inspect them, retry failed ones, cancel
/// pending ones (`admin_*`; admins only when keys are on). None of it runs on the hot path:
/// the only cost there is that a failed task keeps its params, so that it can be retried.
extension BrokerState {
    /// The params every `admin_*` method takes, by name (the ones a method does not use are ignored).
    static let adminParams = ["task_id", "task_ids", "state", "method", "client_id", "node_id", "since", "until", "text", "limit", "cursor"]

    /// Reads an `admin_*` request's filters; -32602 names the bad param.
    static func adminQuery(_ p: ParamBinder, method: String) throws(RPCError) -> AdminTaskQuery {
        var q = AdminTaskQuery()
        if let s = try p.optionalString("state") {
            guard let state = AdminTaskQuery.State(rawValue: s.lowercased()) else {
                throw .invalidParams("\(method): param \"state\" must be one of \(AdminTaskQuery.State.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(s)\"")
            }
            q.state = state
        }
        q.method = try p.optionalString("method")
        q.clientID = try p.optionalString("client_id")
        q.nodeID = try p.optionalString("node_id")
        q.since = try p.optionalSeconds("since").map(WallInstant.init(seconds:))
        q.until = try p.optionalSeconds("until").map(WallInstant.init(seconds:))
        q.text = try p.optionalString("text")
        q.limit = Int(try p.optionalInt("limit", in: 1...Int64(AdminTaskQuery.maxLimit)) ?? 50)
        if let c = try p.optionalString("cursor") {
            guard let n = UInt64(c, radix: 36) else { throw .invalidParams("\(method): param \"cursor\" is not a cursor this broker gave (\"\(c)\")") }
            q.cursor = n
        }
        return q
    }

    /// Retries or cancels the targets: `{retried|cancelled: [ids], skipped: [{task_id, reason}]}`.
    mutating func admin(_ action: BrokerCommand.AdminAction, _ targets: BrokerCommand.AdminTargets, now: MonotonicInstant) -> JSONValue {
        let ids: [String]
        switch targets {
        case .ids(let list): ids = list
        case .matching(let q): ids = matching(q).map(\.id)
        }
        var done: [JSONValue] = [], skipped: [JSONValue] = []
        for id in ids {
            let why = action == .retry ? retry(id, now: now) : adminCancel(id, now: now)
            if let why { skipped.append(["task_id": .string(id), "reason": .string(why)]) } else { done.append(.string(id)) }
        }
        return [action == .retry ? "retried" : "cancelled": .array(done), "skipped": .array(skipped)]
    }

    /// The tasks a query matches, newest first, at most `limit`: one pass over the tasks with
    /// a heap of the `limit` newest so far, so a page costs O(tasks · log limit).
    func matching(_ q: AdminTaskQuery) -> [TaskRecord] {
        var newest = BinaryHeap<OldestFirst>()
        for t in tasks.values where q.matches(t) {
            if newest.count < q.limit {
                newest.push(OldestFirst(task: t))
            } else if let oldest = newest.first, t.sequence > oldest.task.sequence {
                newest.replaceFirst(with: OldestFirst(task: t))
            }
        }
        return newest.elements.map(\.task).sorted { $0.sequence > $1.sequence }
    }

    /// One page of `admin_tasks`: `{tasks, next_cursor}`, `next_cursor` null on the last page.
    func adminPage(_ q: AdminTaskQuery) -> JSONValue {
        var probe = q
        probe.limit = q.limit + 1  // one more tells whether another page follows
        let found = matching(probe)
        let page = found.prefix(q.limit)
        let next: JSONValue = found.count > q.limit ? .string(String(page.last!.sequence, radix: 36)) : .null
        return ["tasks": .array(page.map { adminSummary($0) }), "next_cursor": next]
    }

    /// A task in a list: who, what, where and how it stands (no params or result).
    func adminSummary(_ t: TaskRecord) -> JSONValue {
        guard case .object(var o) = t.info(Tenancy(prefix: "", seesAll: true)) else { return .null }
        o["state"] = .string(AdminTaskQuery.State(t).rawValue)
        o.append("client_id", .string(t.clientID))
        o.append("max_retries", .int(Int64(t.maxRetries)))
        if !t.lostBy.isEmpty { o.append("lost_by", .array(t.lostBy.map { .string($0) })) }
        return .object(o)
    }

    /// One task whole: the summary, its params, its result, and its timeline.
    ///
    /// The timeline is the task's recorded events (`TaskEvent`: earlier attempts' starts,
    /// requeues, an admin's retry, progress samples) merged by time with what its fields keep
    /// (submitted, not before, the failed attempts, the last start, finished). Only what the
    /// fields lose is recorded, so the hot path pays for the timeline only when something out
    /// of the ordinary happens to a task.
    func adminDetail(_ t: TaskRecord) -> JSONValue {
        guard case .object(var o) = adminSummary(t) else { return .null }
        o.append("params", t.params)
        if let r = t.result { o.append("result", r) }
        let workflow = t.workflow
        var timed: [(at: WallInstant, entry: JSONValue)] = [(t.created, ["at": .double(t.created.seconds), "event": "submitted"])]
        func add(_ at: WallInstant, _ event: String, attempt: Int? = nil, node: String? = nil, detail: String? = nil, progress: JSONObject? = nil) {
            var e = JSONObject()
            e.append("at", .double(at.seconds))
            e.append("event", .string(event))
            if let attempt { e.append("attempt", .int(Int64(attempt))) }
            if let node { e.append("node_id", .string(node)) }
            if let detail { e.append("detail", .string(detail)) }
            if let progress { e.append("progress", .object(progress)) }
            timed.append((at, .object(e)))
        }
        if let n = t.notBefore { add(n, "not before") }
        // Each retried run's failure (BrokerState+Retries); not_before is the latest back-off's.
        for a in t.history { add(a.at, "attempt \(a.attempt) failed: \(a.error.message)", attempt: a.attempt, node: a.nodeID) }
        // The last start, unless a requeue recorded it already (the task waits for its next one).
        if let s = t.started, !t.events.contains(where: { $0.kind == .started && $0.at == s && $0.attempt == t.attempts }) {
            // A workflow's record is never handed to a node: it starts with its first task.
            if workflow == nil { add(s, "started (attempt \(t.attempts))", attempt: t.attempts, node: t.nodeID) } else { add(s, "started") }
        }
        for e in t.events {
            switch e.kind {
            case .started: add(e.at, "started (attempt \(e.attempt))", attempt: e.attempt, node: e.nodeID)
            case .progress: add(e.at, "progress", attempt: e.attempt, node: e.nodeID, progress: e.progress)
            case .requeued: add(e.at, "requeued", attempt: e.attempt, node: e.nodeID, detail: e.detail)
            case .failed: add(e.at, "attempt \(e.attempt) failed: \(e.detail ?? "")", attempt: e.attempt, node: e.nodeID)
            case .retriedByAdmin: add(e.at, e.kind.rawValue)
            }
        }
        // Sorted by time; entries at the same time keep the order above (stable).
        var timeline = timed.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element.entry)
        // The latest progress when it is newer than the last sample (samples are a second apart).
        if let p = t.progress, t.events.last(where: { $0.kind == .progress })?.progress != p {
            timeline.append(["event": "progress", "progress": .object(p)])
        }
        if let f = t.finished { timeline.append(["at": .double(f.seconds), "event": .string(AdminTaskQuery.State(t).rawValue)]) }
        o.append("timeline", .array(timeline))
        if let workflow { o.append("steps", workflowSteps(workflow)) }
        return .object(o)
    }

    /// A workflow's tasks for its page, in order, the callback last: `{task_id?, method, state}`,
    /// where a step not started yet has no id and the state `waiting`, and one whose record is
    /// gone (its result expired) the state `expired`.
    func workflowSteps(_ workflow: Workflow) -> JSONValue {
        let definitions = workflow.tasks + (workflow.callback.map { [$0] } ?? [])
        return .array(definitions.enumerated().map { i, definition in
            var step = JSONObject()
            if i < workflow.children.count {
                let id = workflow.children[i]
                step.append("task_id", .string(id))
                step.append("method", .string(tasks[id]?.method ?? definition["method"]?.stringValue ?? ""))
                step.append("state", .string(tasks[id].map { AdminTaskQuery.State($0).rawValue } ?? "expired"))
            } else {
                step.append("method", definition["method"] ?? "")
                step.append("state", "waiting")
            }
            if i == workflow.tasks.count { step.append("callback", true) }
            return .object(step)
        })
    }

    /// Sends a failed or cancelled task back to its queue with the params it kept, as new:
    /// its attempts count from zero again. The reason it cannot, or nil when it went. The queue
    /// limits do not refuse it: the task and its params were held all along (in the result
    /// budget), and an operator's retry must not fail because clients filled the queue.
    mutating func retry(_ id: String, now: MonotonicInstant) -> String? {
        guard var t = tasks[id] else { return "unknown task" }
        guard t.status == .failed else { return "not failed or cancelled (\(AdminTaskQuery.State(t).rawValue))" }
        guard !t.keepsParams else { return "a workflow is not retried as a whole: retry its failed task, or submit it again" }
        guard !t.params.isNull || t.paramsBytes == 0 else { return "its params were not kept" }
        results.removed(bytes: t.resultBytes, failed: true)
        // What the reset below clears stays in the timeline: the runs and how they ended.
        let wall = wallClock()
        t.recordStart(of: t.nodeID)
        for a in t.history {
            t.events.record(TaskEvent(.failed, at: a.at, attempt: a.attempt, nodeID: a.nodeID, detail: a.error.message))
        }
        // The last failure is in the history too when retries ran out; otherwise only here.
        if let e = t.error, t.history.last?.attempt != t.attempts {
            t.events.record(TaskEvent(.failed, at: t.finished ?? wall, attempt: t.attempts, nodeID: t.nodeID ?? t.lostBy.last, detail: e.message))
        }
        t.events.record(TaskEvent(.retriedByAdmin, at: wall, attempt: t.attempts))
        t.status = .queued
        t.error = nil
        t.result = nil
        t.nodeID = nil
        t.lostBy = []
        t.progress = nil
        t.attempts = 0
        t.history = []
        t.started = nil
        t.finished = nil
        // Its entries in the result budget and expiry heap no longer match it: both skip it.
        t.completedAt = nil
        t.resultBytes = 0
        tasks[id] = t
        taskChanged(id)
        dropStaleResultEntries()
        pendingBytes += t.paramsBytes
        clients.countPending(t.clientID, by: 1)
        counters.requeued += 1
        observer?.taskRetried(method: t.method)  // metrics
        // A `not_before` still ahead (cancelled while delayed) holds it back, as `restore` would.
        enqueueOrHold(t, now: now, wallNow: wallClock())
        return nil
    }

    /// Cancels a pending task of any client. The reason it cannot, or nil when it did.
    mutating func adminCancel(_ id: String, now: MonotonicInstant) -> String? {
        guard let t = tasks[id] else { return "unknown task" }
        guard !t.status.isComplete else { return "already \(AdminTaskQuery.State(t).rawValue)" }
        cancel(t, now: now, by: "an admin")
        return nil
    }
}

/// A task in the heap of `matching`: the oldest on top, to be replaced by anything newer.
private struct OldestFirst: HeapOrdered {
    var task: TaskRecord
    func precedes(_ other: OldestFirst) -> Bool { task.sequence < other.task.sequence }
}
