import ZeroTaskProtocol

/// When a submission asks to start: at a wall-clock time (`not_before`) or after a delay.
enum SubmissionStart: Sendable, Equatable {
    /// `not_before`: seconds since 1970.
    case at(WallInstant)
    /// `delay`: seconds from the submission.
    case after(Double)

    /// The wall-clock time it names, for a submission at `wallNow`.
    func notBefore(wallNow: WallInstant) -> WallInstant {
        switch self {
        case .at(let t): t
        case .after(let d): wallNow + d
        }
    }
}

/// Tasks held back until their time (a `delay` or `not_before`, or a retry's back-off): a
/// min-heap by the monotonic time each is due, outside the methods' queues, so a pull never
/// looks at them and a wake-up looks only at what is due.
///
/// Removal is lazy, as in `TaskQueue`: a task cancelled while it waits leaves a stale entry,
/// told apart by the task's `waitingUntil` (nil, or another time) and dropped when it comes up
/// or when stale entries outnumber live ones.
struct DelayedTasks: Sendable {
    var heap = DeadlineHeap<String>()
    /// Tasks really held back (the heap may also hold stale entries).
    var count = 0
    /// The same by method: they show as queued in `methods` and `admin_queue`, as in `stats`.
    var byMethod: [String: Int] = [:]

    mutating func counted(_ method: String, by n: Int) {
        count += n
        let now = byMethod[method, default: 0] + n
        byMethod[method] = now > 0 ? now : nil
    }
}

extension Submission {
    /// -32602 naming `max_delay` when the submission asks to start further ahead than the
    /// broker allows.
    /// - Parameter method: the request (or entry) to name in the error.
    func checkStart(_ config: BrokerConfig, wallNow: WallInstant, method: String) throws(RPCError) {
        guard let start else { return }
        let ahead = start.notBefore(wallNow: wallNow) - wallNow
        guard ahead > config.maxDelay else { return }
        let param = if case .at = start { "not_before" } else { "delay" }
        throw .invalidParams("\(method): param \"\(param)\" is \(SecondsText.format(ahead)) ahead, past the broker's max_delay (\(SecondsText.format(config.maxDelay)))")
    }
}

/// Delayed tasks: held back until their time, then queued like any other.
extension BrokerState {
    /// Holds a queued task back until `at` (monotonic), outside its method's queue.
    mutating func holdBack(_ taskID: String, until at: MonotonicInstant) {
        tasks[taskID]!.waitingUntil = at
        delayed.heap.push(at: at, taskID)
        delayed.counted(tasks[taskID]!.method, by: 1)
    }

    /// A held-back task leaves the heap before its time (cancelled, or finished by a late
    /// report): its entry goes stale.
    mutating func leftDelay(_ taskID: String) {
        tasks[taskID]?.waitingUntil = nil
        delayed.counted(tasks[taskID]?.method ?? "", by: -1)
        if delayed.heap.count > 1024 && delayed.heap.count > 2 * delayed.count {
            let tasks = tasks
            delayed.heap.retain { tasks[$0.key]?.waitingUntil == $0.at }
        }
    }

    /// Queues every held-back task whose time has come (at `now`, monotonic), earliest first;
    /// only the due entries of the heap are looked at.
    mutating func releaseDelayed(now: MonotonicInstant) {
        while let first = delayed.heap.first, first.at <= now {
            delayed.heap.popFirst()
            guard let t = tasks[first.key], t.status == .queued, t.waitingUntil == first.at else { continue }
            tasks[first.key]!.waitingUntil = nil
            delayed.counted(t.method, by: -1)
            enqueue(tasks[first.key]!, now: now)
        }
    }

    /// When the next held-back task is due (monotonic), for the loop's poll timeout.
    var nextDelayedDue: MonotonicInstant? { delayed.heap.first?.at }

    /// Tasks held back until their time.
    public var delayedTaskCount: Int { delayed.count }

    /// Queues a task just submitted, or holds it back when its `not_before` is ahead.
    mutating func enqueueOrHold(_ task: TaskRecord, now: MonotonicInstant, wallNow: WallInstant) {
        // On a shared queue an unclaimed task waits in the database, which knows its not_before.
        if shared != nil, task.claim == nil, !task.keepsParams { return leaveToSharedQueue(task.id) }
        if let notBefore = task.notBefore, notBefore > wallNow {
            holdBack(task.id, until: now + (notBefore - wallNow))
        } else {
            enqueue(task, now: now)
        }
    }
}
