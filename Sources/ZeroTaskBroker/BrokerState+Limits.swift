import ZeroTaskProtocol

/// The per-method limits in force and what holds a method's queue back: concurrency and rate
/// gates (`MethodGate`), the methods an admin paused, and the methods whose queue reopened.
///
/// Where a method's limits come from: what its nodes advertise (the plugin manifest's
/// `concurrency` and `rate`; the tightest when nodes differ), each field that the broker's
/// configuration (`broker.methods`) sets taking its place — the operator has the last word, and
/// may loosen a plugin's limit as well as tighten it.
struct MethodLimits: Sendable {
    /// `broker.methods`: the operator's policy per method.
    let configured: [String: MethodPolicy]
    /// The tightest limits the connected nodes advertised per method (looked at again whenever a
    /// node serving the method connects or advertises).
    var advertised: [String: MethodPolicy] = [:]
    /// Methods with a limit in force.
    var gates: [String: MethodGate] = [:]
    /// Methods an admin paused: their tasks are accepted and queued but none is handed out.
    var paused: Set<String> = []
    /// Whether `paused` changed since the store last heard of it.
    var pausedChanged = false
    /// Methods whose queued tasks may go now where they could not before (a slot freed, a token
    /// came due, resumed): handed to parked pulls at the end of the turn.
    var due: Set<String> = []
    /// When a rate-limited method has its next token; `wakeAt` drops stale heap entries.
    var wakeups = DeadlineHeap<String>()
    var wakeAt: [String: MonotonicInstant] = [:]

    init(configured: [String: MethodPolicy]) {
        self.configured = configured
        for (m, p) in configured {
            let gate = MethodGate(p, now: 0)
            if gate.limits { gates[m] = gate }
        }
    }

    /// Nothing limited or paused: dispatch checks nothing.
    @inline(__always) var isEmpty: Bool { gates.isEmpty && paused.isEmpty }
}

extension BrokerState {
    /// Whether a task of `method` may be handed out now (not paused, within its limits); counts
    /// it as running when it may. A refusal for the rate schedules a wake-up for the next token;
    /// one for concurrency waits for a task of the method to stop (`stoppedRunning`).
    @inline(__always) mutating func mayStart(_ method: String, now: MonotonicInstant) -> Bool {
        limits.isEmpty || admit(method, now: now)
    }

    private mutating func admit(_ method: String, now: MonotonicInstant) -> Bool {
        if limits.paused.contains(method) { return false }
        guard limits.gates[method] != nil else { return true }
        switch limits.gates[method]!.admit(now: now) {
        case .start: return true
        case .full: return false
        case .wait(let until):
            wake(method, at: until)
            return false
        }
    }

    /// Whether new tasks of `method` must go through the queue (and `mayStart`) rather than
    /// straight to a parked pull.
    @inline(__always) func isHeldBack(_ method: String) -> Bool {
        !limits.isEmpty && (limits.paused.contains(method) || limits.gates[method] != nil)
    }

    /// Whether `mayStart` would say yes now (nothing taken); schedules the wake-up when only the
    /// rate says no.
    mutating func isOpen(_ method: String, now: MonotonicInstant) -> Bool {
        if limits.paused.contains(method) { return false }
        guard limits.gates[method] != nil else { return true }
        guard let next = limits.gates[method]!.nextStart(now: now) else { return false }
        if next <= now { return true }
        wake(method, at: next)
        return false
    }

    private mutating func wake(_ method: String, at time: MonotonicInstant) {
        if let w = limits.wakeAt[method], w <= time { return }
        limits.wakeAt[method] = time
        limits.wakeups.push(at: time, method)
    }

    /// A task of `method` that was assigned or running stopped (finished, failed, cancelled,
    /// queued again, handed back): its place is free.
    @inline(__always) mutating func stoppedRunning(_ method: String) {
        guard !limits.gates.isEmpty, limits.gates[method] != nil else { return }
        limits.gates[method]!.finished()
        if queues[method]?.isEmpty == false { limits.due.insert(method) }
    }

    /// `task` stops holding a place under its method's concurrency, if it held one (it was
    /// assigned or running).
    @inline(__always) mutating func stoppedRunning(_ task: TaskRecord) {
        if task.status == .assigned || task.status == .running { stoppedRunning(task.method) }
    }

    /// `task` leaves the node that held it (finished, handed back, backing off before a retry):
    /// the node's slot and its method's concurrency place are free, in one step.
    @inline(__always) mutating func leftNode(_ task: TaskRecord) {
        nodes.unassign(task.id, from: task.nodeID)
        stoppedRunning(task)
    }

    /// The earliest rate wake-up, for the owner's poll timeout.
    var nextLimitWake: MonotonicInstant? { limits.wakeups.first?.at }

    /// Marks the methods whose next token is due as reopened.
    mutating func wakeLimits(now: MonotonicInstant) {
        while let f = limits.wakeups.first, f.at <= now {
            limits.wakeups.popFirst()
            guard limits.wakeAt[f.key] == f.at else { continue }
            limits.wakeAt[f.key] = nil
            limits.due.insert(f.key)
        }
    }

    /// Hands queued tasks of the reopened methods to the nodes parked waiting for work, while
    /// the method's gate lets them go. A parked node that can take none of them (tags, no free
    /// slot) stays parked.
    mutating func dispatchReopened(now: MonotonicInstant) {
        guard !limits.due.isEmpty else { return }
        let methods = limits.due.sorted()
        limits.due.removeAll(keepingCapacity: true)
        for m in methods {
            var passed: [NodeWaiter] = []
            while queues[m]?.isEmpty == false, isOpen(m, now: now),
                let w = nodeWaiters.takeFirst(for: m, where: { nodes[$0.nodeID].map { $0.freeSlots > 0 } ?? false })
            {
                let got = pullQueued(for: w.nodeID, max: w.max, now: now)
                if got.isEmpty {
                    passed.append(w)
                } else {
                    outputs.append(.reply(w.route, .assignments(got)))
                }
            }
            for w in passed {
                if let n = nodes[w.nodeID] { _ = nodeWaiters.park(w, methods: n.methods.keys) }
            }
            // Seed nodes do not pull: they claim what they hear of, and a claim the gate refused
            // is not tried again. Announce the method's next task once it may go.
            if interest.newTask, let lanes = queues[m]?.lanes.indices, isOpen(m, now: now) {
                var best: TaskQueue.Entry?
                for lane in lanes {
                    if let e = liveTop(m, lane: lane), best.map({ e.precedes($0) }) ?? true { best = e }
                }
                if let best { publish(.newTask(method: m, taskID: best.taskID)) }
            }
        }
    }

    /// The limits in force for `method`: what its nodes advertise, with each field the broker's
    /// configuration sets taking its place.
    func limitPolicy(_ method: String) -> MethodPolicy {
        let p = (limits.advertised[method] ?? .none).overridden(by: limits.configured[method] ?? .none)
        return MethodPolicy(concurrency: p.concurrency, rate: p.rate)
    }

    /// A node connected or advertised: the limits its methods declare are looked at again (only
    /// for methods that declare one or had one).
    mutating func refreshLimits(node id: String, now: MonotonicInstant) {
        guard let node = nodes[id] else { return }
        for (m, desc) in node.methods {
            guard Self.declaresLimit(desc) || limits.advertised[m] != nil else { continue }
            var tightest: MethodPolicy?
            for n in nodes.all {
                guard let d = n.methods[m], let p = Self.advertisedLimit(d) else { continue }
                tightest = tightest.map { Self.tighter($0, p) } ?? p
            }
            limits.advertised[m] = tightest
            rebuildGate(m, now: now)
        }
    }

    private static func declaresLimit(_ desc: JSONValue) -> Bool {
        guard let o = desc.objectValue else { return false }
        return o["concurrency"] != nil || o["rate"] != nil
    }

    /// The concurrency and rate of an advertised description; nil when it declares neither.
    /// (`methodDescriptions` refused a description whose limits do not read.)
    private static func advertisedLimit(_ desc: JSONValue) -> MethodPolicy? {
        guard declaresLimit(desc), let o = desc.objectValue else { return nil }
        var fields = JSONObject()
        if let c = o["concurrency"] { fields["concurrency"] = c }
        if let r = o["rate"] { fields["rate"] = r }
        return try? MethodPolicy(reading: fields, prefix: nil)
    }

    /// Checks the limits a method description declares: -32602 naming the field.
    static func checkAdvertisedLimit(_ desc: JSONObject, index: Int) throws(BrokerError) {
        guard desc["concurrency"] != nil || desc["rate"] != nil else { return }
        var fields = JSONObject()
        if let c = desc["concurrency"] { fields["concurrency"] = c }
        if let r = desc["rate"] { fields["rate"] = r }
        do throws(PolicyError) { _ = try MethodPolicy(reading: fields, prefix: "methods[\(index)]") } catch {
            throw .invalidParams(error.description)
        }
    }

    /// Field by field, the one that lets fewer tasks run.
    private static func tighter(_ a: MethodPolicy, _ b: MethodPolicy) -> MethodPolicy {
        let c: Int? = switch (a.concurrency, b.concurrency) {
        case let (x?, y?): min(x, y)
        case let (x, y): x ?? y
        }
        let r: RateLimit? = switch (a.rate, b.rate) {
        case let (x?, y?): x.perSecond <= y.perSecond ? x : y
        case let (x, y): x ?? y
        }
        return MethodPolicy(concurrency: c, rate: r)
    }

    /// Puts the gate of `method` in line with its policy; a new gate counts the method's tasks
    /// running now.
    private mutating func rebuildGate(_ method: String, now: MonotonicInstant) {
        let policy = limitPolicy(method)
        guard policy.concurrency != nil || policy.rate != nil else {
            if limits.gates.removeValue(forKey: method) != nil { limits.due.insert(method) }
            return
        }
        if let g = limits.gates[method], g.concurrency == policy.concurrency, g.rate == policy.rate { return }
        var gate = MethodGate(policy, now: now)
        gate.adopt(running: runningCount(method))
        limits.gates[method] = gate
        limits.due.insert(method)
    }

    /// Tasks of `method` assigned or running now: O(tasks in flight).
    func runningCount(_ method: String) -> Int {
        var n = 0
        for node in nodes.all {
            for id in node.assigned {
                if let t = tasks[id], t.method == method, t.status == .assigned || t.status == .running { n += 1 }
            }
        }
        return n
    }

    /// After a restart: the gates count the tasks the store says are running.
    mutating func adoptRunningTasks() {
        for m in limits.gates.keys { limits.gates[m]!.adopt(running: runningCount(m)) }
    }

    /// What `methods` shows of a method's limits: `concurrency`, `rate`, `paused`.
    func limitFields(_ method: String, into o: inout JSONObject) {
        if let g = limits.gates[method] {
            if let c = g.concurrency { o["concurrency"] = .int(Int64(c)) } else { o["concurrency"] = nil }
            if let r = g.rate { o["rate"] = r.json } else { o["rate"] = nil }
        }
        if limits.paused.contains(method) { o["paused"] = true }
    }
}
