import ZeroTaskProtocol

/// A client's long poll for results (`client_wait_results` with `wait`, or `client_call`).
struct ResultWaiter: Sendable {
    var route: ReplyRoute
    var clientID: String
    /// Distinct ids, in the order the client gave them (the caller removes repeats).
    var taskIDs: [String]
    var deadline: MonotonicInstant
    /// `client_call`: answered with the one task's entry, not a list.
    var single = false
    /// How the waiting client names tasks, and whether it waits on others' (an admin).
    var tenancy = Tenancy.none

    /// The answer once tasks are done (or the wait is over).
    func answer(_ done: [TaskRecord], tasks: [String: TaskRecord]) -> BrokerReply {
        guard single else { return .entries(done.map { BrokerState.resultEntry($0, tenancy) }) }
        if let t = done.first { return .entry(BrokerState.resultEntry(t, tenancy)) }
        return .entry(TaskResultEntry(taskID: tenancy.outside(taskIDs[0]), status: tasks[taskIDs[0]]?.status, outcome: nil))
    }
}

/// The clients' long polls, found by the tasks they wait on: a completion looks only at its own
/// task's waiters (with `client_call`, every task in flight has one), and the next deadline
/// is a heap's first entry, not a scan of every waiter.
///
/// Every operation costs what it touches: adding or removing a waiter costs its own ids (each
/// task's waiters are a set, so removing one does not scan the others: 100 polls naming one
/// task were 10^10 steps when it completed), and a client's waiters are found without a scan.
struct ResultWaiterSet: Sendable {
    private var waiters: [Int: ResultWaiter] = [:]
    private var byTask: [String: Serials] = [:]
    private var byClient: [String: Serials] = [:]
    /// Parked waiters per connection (routing identity), for the per-connection cap.
    private var byPeer: [[UInt8]: Int] = [:]
    /// Deadlines by waiter serial; entries of waiters answered early stay until due or compacted.
    private var deadlines = DeadlineHeap<Int>()
    private var nextSerial = 0
    /// Task ids held by all parked waiters together.
    private(set) var idCount = 0

    /// How many waiters are parked.
    var count: Int { waiters.count }

    /// How many waiters the connection `peer` has parked.
    func count(peer: [UInt8]) -> Int { byPeer[peer] ?? 0 }

    mutating func add(_ waiter: ResultWaiter) {
        let serial = nextSerial
        nextSerial += 1
        waiters[serial] = waiter
        for id in waiter.taskIDs { byTask[id, default: .none].insert(serial) }
        byClient[waiter.clientID, default: .none].insert(serial)
        byPeer[waiter.route.peer, default: 0] += 1
        idCount += waiter.taskIDs.count
        deadlines.push(at: waiter.deadline, serial)
        // Waiters answered early leave their deadline behind: drop those once they dominate.
        if deadlines.count > 64 && deadlines.count > 4 * waiters.count {
            deadlines.retain { waiters[$0.key] != nil }
        }
    }

    /// Removes and returns the waiters of `taskID` that may read a task of `clientID`.
    mutating func take(waitingOn taskID: String, clientID: String) -> [ResultWaiter] {
        guard let serials = byTask[taskID] else { return [] }
        var taken: [ResultWaiter] = []
        for s in serials.sorted() {
            if let w = waiters[s], w.tenancy.mayRead(taskOf: clientID, as: w.clientID), let removed = remove(s) { taken.append(removed) }
        }
        return taken
    }

    /// Removes and returns every waiter of `clientID`, oldest first.
    mutating func take(clientID: String) -> [ResultWaiter] {
        guard let serials = byClient[clientID] else { return [] }
        return serials.sorted().compactMap { remove($0) }
    }

    /// Removes and returns the waiters whose deadline has come, earliest first.
    mutating func takeExpired(now: MonotonicInstant) -> [ResultWaiter] {
        var expired: [ResultWaiter] = []
        while let f = deadlines.first, f.at <= now {
            deadlines.popFirst()
            if let w = waiters[f.key], w.deadline <= now, let removed = remove(f.key) { expired.append(removed) }
        }
        return expired
    }

    /// The earliest deadline of a waiting poll.
    var nextDeadline: MonotonicInstant? { deadlines.first?.at }

    private mutating func remove(_ serial: Int) -> ResultWaiter? {
        guard let w = waiters.removeValue(forKey: serial) else { return nil }
        for id in w.taskIDs { Self.remove(serial, from: &byTask, id) }
        Self.remove(serial, from: &byClient, w.clientID)
        let peer = w.route.peer
        if let n = byPeer[peer] { byPeer[peer] = n > 1 ? n - 1 : nil }
        idCount -= w.taskIDs.count
        // The first deadline is always a live waiter's; stale ones behind it wait for
        // their turn or for compaction.
        while let f = deadlines.first, waiters[f.key] == nil { deadlines.popFirst() }
        return w
    }

    private static func remove(_ serial: Int, from index: inout [String: Serials], _ key: String) {
        guard var s = index[key] else { return }
        s.remove(serial)
        index[key] = s.isEmpty ? nil : s
    }
}

/// Waiter serials of one task or client: most have one (`client_call`), which needs no set.
enum Serials: Sendable {
    case none
    case one(Int)
    case many(Set<Int>)

    var isEmpty: Bool {
        switch self {
        case .none: true
        case .one: false
        case .many(let s): s.isEmpty
        }
    }

    mutating func insert(_ serial: Int) {
        switch self {
        case .none: self = .one(serial)
        case .one(let x): self = x == serial ? self : .many([x, serial])
        case .many(var s):
            self = .none  // keeps the set uniquely referenced while it grows
            s.insert(serial)
            self = .many(s)
        }
    }

    mutating func remove(_ serial: Int) {
        switch self {
        case .none: break
        case .one(let x): if x == serial { self = .none }
        case .many(var s):
            self = .none
            s.remove(serial)
            self = s.count == 1 ? .one(s.first!) : .many(s)
        }
    }

    func sorted() -> [Int] {
        switch self {
        case .none: []
        case .one(let x): [x]
        case .many(let s): s.sorted()
        }
    }
}
