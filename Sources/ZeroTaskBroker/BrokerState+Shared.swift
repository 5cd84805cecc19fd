import ZeroTaskProtocol

/// What a broker on a shared PostgreSQL queue keeps besides its own tasks (issue 16).
///
/// The database is the queue: a task waits there, claimed by no broker, until a broker whose
/// nodes have room claims it (`FOR UPDATE SKIP LOCKED`, adding one to its attempts). Only a
/// claimed task is in this broker's queues and goes to its nodes; `TaskRecord.claim` holds the
/// claim's attempt, which fences every write about the task (`PostgresSharedStore`). A task
/// submitted here while no node here has room is kept as a *remote* record (no claim, in no
/// queue) so that its client can wait for it here; its outcome is read back from the database
/// (`watch`) when another broker's commit says results were written, and at least every second.
struct SharedQueue: Sendable {
    /// Tasks this broker knows of but does not hold: queued in the database or claimed by
    /// another broker, not complete. Their outcome is watched for.
    var remoteOpen: Set<String> = []
    /// Claims to hand back at the next commit (no node here serves the method any more).
    var releases: [SharedQueueRequest.Release] = []
    /// The methods whose tasks the database may hold queued for this broker to claim (every
    /// method while `claimAny`): told by notifications, by the poll timer, by a claim that took
    /// all it asked for, and by this broker's own hand-backs; forgotten for the methods a claim
    /// came back short of. A claim is asked for only these: a broker whose tasks were all
    /// claimed on insert does not ask the database in every commit for tasks it does not have.
    var claimable: Set<String> = []
    var claimAny = true
    /// Counts every piece of news about `claimable`: a claim's "no more" forgets nothing
    /// learnt after it was asked.
    var claimEpoch = 0

    /// News that tasks of `methods` may be queued in the database.
    mutating func mayClaim(_ methods: some Sequence<String>) {
        claimable.formUnion(methods)
        claimEpoch += 1
    }

    /// News that tasks of any method may be queued in the database.
    mutating func mayClaimAny() {
        claimAny = true
        claimEpoch += 1
    }

    /// Of `methods`, those a claim may find tasks of.
    func claimable(of methods: Set<String>) -> Set<String> { claimAny ? methods : methods.intersection(claimable) }

    /// What a claim brought back: took all it asked, there may be more; came back short, the
    /// database holds no more of its methods (unless news came since it was asked). `served`
    /// is every method served here (what "any method" stands for).
    mutating func claimed(_ count: Int, of ask: SharedQueueRequest.Claim, served: Set<String>) {
        if count >= ask.limit {
            mayClaim(ask.methods)
        } else if ask.epoch == claimEpoch {
            if claimAny {
                claimAny = false
                claimable = served
            }
            claimable.subtract(ask.methods)
        }
    }
    /// Whether the next commit reads back the watched tasks.
    var syncDue = false
    /// Whether that read-back also shows the open ones' state (running where): on the poll
    /// timer only; a notification that results were written asks for outcomes alone.
    var syncOpenDue = false
    var lastPoll = MonotonicInstant.distantPast
    /// How often the database is looked at without a notification (works behind PgBouncer).
    var pollInterval = 1.0
    /// Claims at once, and reads tasks by id, in round trips of their own (the owner's connection).
    var reader: QueueReader?
}

/// The shared queue read now, outside a commit: a claim (`BrokerState.claimForPull`), and the
/// tasks a command names that this broker does not hold (`BrokerState.apply`). The broker
/// thread's own connection to the queue, behind functions so that the rules do no I/O of their own.
struct QueueReader: Sendable {
    let claim: @Sendable (SharedQueueRequest.Claim) -> [StoredTask]
    var lookUp: @Sendable ([String]) -> [StoredTask] = { _ in [] }
}

extension BrokerState {
    /// Puts this broker on a shared queue: from now on a task goes to its nodes only once
    /// claimed. Call before any request (the store's contents hold no tasks then).
    mutating func shareQueue(pollInterval: Double = 1.0, reader: QueueReader? = nil) {
        shared = SharedQueue(pollInterval: pollInterval, reader: reader)
    }

    public var sharesQueue: Bool { shared != nil }

    /// The room the parked pulls here have beyond what is queued here already, and the methods
    /// their nodes serve: what a claim in a commit asks for. Nil when there is no room. (A pull
    /// that does not wait claims for itself, `claimForPull`: the two never race for a node.)
    func claimAsk() -> SharedQueueRequest.Claim? {
        guard let shared else { return nil }
        var methods: Set<String> = []
        var free = 0
        for w in nodeWaiters.all {
            guard let node = nodes[w.nodeID], node.freeSlots > 0 else { continue }
            let served = shared.claimable(of: Set(node.methods.keys.filter { !limits.paused.contains($0) }))
            guard !served.isEmpty else { continue }
            free += Swift.min(w.max, node.freeSlots)
            methods.formUnion(served)
        }
        let limit = free - queuedCount
        return limit > 0 ? .init(methods: methods, limit: limit, epoch: shared.claimEpoch) : nil
    }

    /// What a claim for one node's pull asks for: its room, beyond what is queued here for it.
    func claimAsk(for nodeID: String, max: Int) -> SharedQueueRequest.Claim? {
        guard let shared, let node = nodes[nodeID] else { return nil }
        let served = Set(node.methods.keys.filter { !limits.paused.contains($0) })
        let queued = served.reduce(0) { $0 + (queues[$1]?.liveCount ?? 0) }
        let methods = shared.claimable(of: served)
        let limit = Swift.min(max, node.freeSlots) - queued
        return limit > 0 && !methods.isEmpty ? .init(methods: methods, limit: limit, epoch: shared.claimEpoch) : nil
    }

    /// Whether a node here has room for one more task of `task`'s method now.
    func roomHere(for task: TaskRecord) -> Bool {
        var free = 0
        for n in nodes.all where !n.awaitingReconnect && n.freeSlots > 0 && (n.servesAny || n.methods[task.method] != nil) {
            free += n.freeSlots
        }
        return free > (queues[task.method]?.liveCount ?? 0)
    }

    /// Every method a node here serves.
    var methodsServedHere: Set<String> {
        var all: Set<String> = []
        for n in nodes.all { all.formUnion(n.methods.keys) }
        return all
    }

    /// Whether a node here could take `task` now or later (one serves its method with its tags).
    func servedHere(_ task: TaskRecord) -> Bool {
        let tags = task.tags
        return nodes.all.contains { n in
            (n.servesAny || n.methods[task.method] != nil) && (tags.isEmpty || tags.allSatisfy(n.tags.contains))
        }
    }

    /// A task just submitted on a shared queue: claimed at once when a node here has room for
    /// it now (written to the database claimed by this broker, attempt 1: no second round trip),
    /// otherwise left to the database's queue for whichever broker has room first. A task id the
    /// client chose may be a resend of a task another broker holds, so it is never claimed here
    /// on insert: the database's copy wins.
    mutating func submittedShared(_ task: TaskRecord, clientChose: Bool, now: MonotonicInstant, wallNow: WallInstant) {
        let due = task.notBefore.map { $0 <= wallNow } ?? true
        if !clientChose, due, !isHeldBack(task.method), roomHere(for: task), servedHere(task) {
            tasks[task.id]!.claim = 1
            enqueue(tasks[task.id]!, now: now)
        } else {
            leaveToSharedQueue(task.id)
        }
    }

    /// The task waits in the database, not here: a remote record, watched for its outcome.
    mutating func leaveToSharedQueue(_ id: String) {
        guard tasks[id] != nil else { return }
        storeNow(id)  // other brokers may claim it now
        tasks[id]!.claim = nil
        tasks[id]!.status = .queued
        tasks[id]!.nodeID = nil
        shared!.remoteOpen.insert(id)
        shared!.mayClaim(CollectionOfOne(tasks[id]!.method))
    }

    /// `enqueue` on a shared queue: a task this broker holds no claim on goes to the database;
    /// a claimed one that no node here serves any more is handed back to it. Returns whether
    /// the task was dealt with (false: queue it here as usual).
    mutating func enqueueShared(_ task: TaskRecord) -> Bool {
        guard !task.keepsParams else { return false }
        guard let claim = task.claim else {
            leaveToSharedQueue(task.id)
            return true
        }
        guard !servedHere(task) else { return false }
        shared!.releases.append(.init(id: task.id, attempt: claim))
        leaveToSharedQueue(task.id)
        untrack(task.id)
        return true
    }

    /// What this commit asks of the shared queue besides the changes.
    mutating func takeSharedRequest() -> SharedQueueRequest {
        var r = SharedQueueRequest()
        guard shared != nil else { return r }
        r.releases = shared!.releases
        shared!.releases.removeAll()
        r.claim = claimAsk()
        if shared!.syncDue, !shared!.remoteOpen.isEmpty {
            r.watch = Array(shared!.remoteOpen.prefix(5000))
            r.watchOpen = shared!.syncOpenDue
            shared!.syncDue = false
            shared!.syncOpenDue = false
        }
        return r
    }

    /// The poll timer: claim and read back at least every `pollInterval` (monotonic `now`).
    mutating func tickShared(now: MonotonicInstant) {
        guard shared != nil, now - shared!.lastPoll >= shared!.pollInterval else { return }
        shared!.lastPoll = now
        shared!.mayClaimAny()
        shared!.syncDue = true
        shared!.syncOpenDue = true
    }

    /// Another broker's commit notified: tasks of `methods` (any method when `anyMethod`) were
    /// queued, or results were written (`results`).
    public mutating func sharedQueueNotified(methods: Set<String>, anyMethod: Bool, results: Bool) {
        guard shared != nil else { return }
        if anyMethod || nodes.all.contains(where: \.servesAny) {
            shared!.mayClaimAny()
        } else if !methods.isEmpty {
            shared!.mayClaim(methods)
        }
        if results { shared!.syncDue = true }
    }

    /// What a commit on the shared queue brought back: claims to run here, reports the fence
    /// refused, and the watched tasks as the database has them.
    mutating func applyShared(_ feedback: StoreFeedback, now: MonotonicInstant) {
        guard shared != nil else { return }
        for id in feedback.refused { dropClaim(id, reason: "the shared queue refused this broker's claim (another broker holds the task now)") }
        if let ask = feedback.asked { shared!.claimed(feedback.claimed.count, of: ask, served: methodsServedHere) }
        for s in feedback.claimed { adoptClaim(s, now: now) }
        for s in feedback.watched { learn(s, now: now) }
        // The claims go to the parked nodes all at once, each pull as full as it asked.
        dispatchReopened(now: now)
    }

    /// A pull that does not wait, finding too little here: claims for it now, in its own
    /// round trip (`reader`), so that a node asking any broker gets what the queue holds.
    mutating func claimForPull(_ nodeID: String, max: Int, now: MonotonicInstant) -> [TaskAssignment] {
        guard let reader = shared?.reader, let ask = claimAsk(for: nodeID, max: max) else { return [] }
        let claimed = reader.claim(ask)
        shared!.claimed(claimed.count, of: ask, served: methodsServedHere)
        guard !claimed.isEmpty else { return [] }
        for s in claimed { adoptClaim(s, now: now) }
        return pullQueued(for: nodeID, max: max, now: now)
    }

    /// A claimed task into its queue here, for the nodes; handed back when none serves it.
    private mutating func queueClaimed(_ id: String) {
        let t = tasks[id]!
        if enqueueShared(t) { return }
        queueHere(t)
        limits.due.insert(t.method)
    }

    /// A task this broker just claimed from the database: queued here, for its nodes.
    mutating func adoptClaim(_ s: StoredTask, now: MonotonicInstant) {
        guard let claim = s.claim else { return }
        if var t = tasks[s.id] {
            // Submitted here, queued in the database, and claimed back by this broker.
            guard !t.status.isComplete else { return }
            t.claim = claim
            t.claimStored = true
            t.attempts = claim - 1
            t.history = s.history
            t.status = .queued
            t.nodeID = nil
            tasks[s.id] = t
            shared!.remoteOpen.remove(s.id)
            queueClaimed(s.id)
            return
        }
        var t = TaskRecord(
            id: s.id, clientID: s.clientID, spec: s.spec, sequence: nextSequence, maxRetries: s.maxRetries,
            attempts: claim - 1, created: s.created, history: s.history)
        nextSequence += 1
        t.events = s.events
        t.claim = claim
        t.claimStored = true
        tasks[s.id] = t
        pendingBytes += t.paramsBytes
        clients.countPending(t.clientID, by: 1)
        queueClaimed(s.id)
    }

    /// A task this broker does not hold, as the database has it: complete, its result is
    /// recorded here (waiting clients hear it), not written back; open, its state is shown.
    mutating func learn(_ s: StoredTask, now: MonotonicInstant) {
        guard let t = tasks[s.id], t.claim == nil, !t.status.isComplete else { return }
        guard s.status.isComplete else {
            tasks[s.id]!.status = s.status
            tasks[s.id]!.nodeID = s.nodeID
            tasks[s.id]!.started = s.started
            return
        }
        shared!.remoteOpen.remove(s.id)
        // complete() frees a node slot and a concurrency place: this broker held neither.
        tasks[s.id]!.status = .queued
        tasks[s.id]!.nodeID = nil
        complete(s.id, now: now, outcome: s.error.map { .failure($0) } ?? .success(s.result ?? .null))
        guard tasks[s.id] != nil else { return }
        tasks[s.id]!.nodeID = s.nodeID
        tasks[s.id]!.started = s.started
        tasks[s.id]!.finished = s.finished
        tasks[s.id]!.history = s.history
        tasks[s.id]!.events = s.events
        untrack(s.id)
    }

    /// Reads from the shared queue the tasks a command names that this broker does not hold (or
    /// holds as another broker's, open), so that any broker answers for any task.
    mutating func lookUpNamed(by command: BrokerCommand, now: MonotonicInstant) {
        guard let lookUp = shared?.reader?.lookUp else { return }
        let ids = command.namedTaskIDs
        guard !ids.isEmpty else { return }
        let wanted = idsToLookUp(ids)
        guard !wanted.isEmpty else { return }
        adoptRemote(lookUp(wanted), now: now)
    }

    /// Tasks read from the database for a request that names them and that this broker does
    /// not know (submitted to another broker): kept here as remote records.
    public mutating func adoptRemote(_ rows: [StoredTask], now: MonotonicInstant) {
        guard shared != nil else { return }
        for s in rows {
            if tasks[s.id] != nil {
                learn(s, now: now)
                continue
            }
            var t = TaskRecord(
                id: s.id, clientID: s.clientID, spec: s.spec, status: s.status.isComplete ? s.status : .queued, sequence: nextSequence,
                maxRetries: s.maxRetries, attempts: s.attempts, nodeID: s.nodeID, result: s.result, error: s.error,
                created: s.created, started: s.started, finished: s.finished, history: s.history)
            nextSequence += 1
            t.events = s.events
            if s.status.isComplete {
                t.completedAt = now
                t.resultBytes = Self.resultBytes(t)
                tasks[s.id] = t
                keepResult(t)
            } else {
                t.status = s.status
                tasks[s.id] = t
                pendingBytes += t.paramsBytes
                clients.countPending(t.clientID, by: 1)
                shared!.remoteOpen.insert(s.id)
            }
        }
    }

    /// The ids a request names that this broker should read from the database first: unknown
    /// here, or another broker's and still open (their state here may be a second old).
    public func idsToLookUp(_ ids: [String]) -> [String] {
        guard let shared else { return [] }
        return ids.filter { id in tasks[id] == nil || shared.remoteOpen.contains(id) }
    }

    /// Gives up this broker's claim on a task: another broker holds it now (the fence refused
    /// a write), or this broker was presumed dead. A node here still running it is told to
    /// stop; an outcome recorded here and refused is forgotten, and the database's is awaited.
    mutating func dropClaim(_ id: String, reason: String) {
        guard var t = tasks[id], t.claim != nil || t.status.isComplete else { return }
        if t.status.isComplete {
            results.removed(bytes: t.resultBytes, failed: t.status == .failed)
            pendingBytes += t.paramsBytes
            clients.countPending(t.clientID, by: 1)
            t.result = nil
            t.error = nil
            t.finished = nil
            t.completedAt = nil
        } else {
            if let node = t.nodeID, t.status == .assigned || t.status == .running {
                publish(.cancelTask(nodeID: node, taskID: id))
            }
            if t.status == .queued { dequeued(t) }
            leftNode(t)
        }
        tasks[id] = t
        dropStaleResultEntries()
        events.append(.taskRequeued(taskID: id, method: t.method, cause: reason))
        leaveToSharedQueue(id)
        untrack(id)
    }

    /// This broker was presumed dead (its lease was gone when it renewed it): every claim it
    /// holds is stale, and the tasks may be running elsewhere already.
    public mutating func dropAllClaims() {
        guard shared != nil else { return }
        let held = tasks.values.filter { $0.claim != nil }.map(\.id).sorted()
        for id in held { dropClaim(id, reason: "this broker was presumed dead; another broker runs the task") }
    }

    /// Not written back: what changed came from the database (or is the database's to say).
    private mutating func untrack(_ id: String) { changedTasks.remove(id) }
}
