import ZeroTaskProtocol

/// A client's long poll for results (`client_wait_results` with `wait`, or `client_call`).
struct ResultWaiter: Sendable {
    var route: ReplyRoute
    var clientID: String
    var taskIDs: [String]
    var deadline: Double
    /// `client_call`: answered with the one task's entry, not a list.
    var single = false

    /// The answer once tasks are done (or the wait is over).
    func answer(_ done: [TaskRecord], tasks: [String: TaskRecord]) -> JSONValue {
        guard single else { return .array(done.map(BrokerState.resultEntry)) }
        if let t = done.first { return BrokerState.resultEntry(t) }
        let status = tasks[taskIDs[0]].map { JSONValue.int($0.status.rawValue) } ?? .null
        return ["task_id": .string(taskIDs[0]), "status": status]
    }
}

/// The clients' long polls, found by the tasks they wait on: a completion looks only at its own
/// task's waiters (with `client_call`, every task in flight has one), and the next deadline
/// is a heap's first entry, not a scan of every waiter.
struct ResultWaiterSet: Sendable {
    private var waiters: [Int: ResultWaiter] = [:]
    private var byTask: [String: [Int]] = [:]
    /// Deadlines by waiter serial; entries of waiters answered early stay until due or compacted.
    private var deadlines = DeadlineHeap<Int>()
    private var nextSerial = 0

    mutating func add(_ waiter: ResultWaiter) {
        let serial = nextSerial
        nextSerial += 1
        waiters[serial] = waiter
        for id in waiter.taskIDs { byTask[id, default: []].append(serial) }
        deadlines.push(at: waiter.deadline, serial)
        // Waiters answered early leave their deadline behind: drop those once they dominate.
        if deadlines.count > 64 && deadlines.count > 4 * waiters.count {
            deadlines.retain { waiters[$0.key] != nil }
        }
    }

    /// Removes and returns the waiters of `taskID` that belong to `clientID`.
    mutating func take(waitingOn taskID: String, clientID: String) -> [ResultWaiter] {
        guard let serials = byTask[taskID] else { return [] }
        var taken: [ResultWaiter] = []
        for s in serials {
            if let w = waiters[s], w.clientID == clientID, let removed = remove(s) { taken.append(removed) }
        }
        return taken
    }

    /// Removes and returns every waiter `predicate` accepts (a scan: for rare events only).
    mutating func take(where predicate: (ResultWaiter) -> Bool) -> [ResultWaiter] {
        let serials = waiters.filter { predicate($0.value) }.keys.sorted()
        return serials.compactMap { remove($0) }
    }

    /// Removes and returns the waiters whose deadline has come, earliest first.
    mutating func takeExpired(now: Double) -> [ResultWaiter] {
        var expired: [ResultWaiter] = []
        while let f = deadlines.first, f.at <= now {
            deadlines.popFirst()
            if let w = waiters[f.key], w.deadline <= now, let removed = remove(f.key) { expired.append(removed) }
        }
        return expired
    }

    /// The earliest deadline of a waiting poll.
    var nextDeadline: Double? { deadlines.first?.at }

    private mutating func remove(_ serial: Int) -> ResultWaiter? {
        guard let w = waiters.removeValue(forKey: serial) else { return nil }
        for id in w.taskIDs {
            guard var list = byTask[id] else { continue }
            list.removeAll { $0 == serial }
            byTask[id] = list.isEmpty ? nil : list
        }
        // The first deadline is always a live waiter's; stale ones behind it wait for
        // their turn or for compaction.
        while let f = deadlines.first, waiters[f.key] == nil { deadlines.popFirst() }
        return w
    }
}
