import ZeroTaskProtocol

/// Whether one more task of a method may start now, across all nodes: its concurrency limit
/// (tasks running at once) and its rate (a token bucket), as the method's `MethodPolicy` says.
///
/// A state without I/O on the broker's monotonic clock. The broker asks `admit` before it hands
/// a task of the method to a node and calls `finished` when one ends (succeeded, failed,
/// requeued or cancelled while running); a task that is refused stays first in its queue.
struct MethodGate: Sendable, Equatable {
    let concurrency: Int?
    private var bucket: TokenBucket?
    /// Tasks of the method running now, as far as the gate was told.
    private(set) var running = 0

    enum Admission: Sendable, Equatable {
        /// Start it; the gate counted it as running.
        case start
        /// The concurrency limit is reached: ask again when a task finishes.
        case full
        /// The rate is used up: ask again at this time.
        case wait(until: MonotonicInstant)
    }

    init(_ policy: MethodPolicy, now: MonotonicInstant) {
        concurrency = policy.concurrency
        bucket = policy.rate.map { TokenBucket($0, now: now) }
    }

    /// Whether the policy limits anything (a gate that does not is never asked).
    var limits: Bool { concurrency != nil || bucket != nil }

    /// The rate it enforces.
    var rate: RateLimit? { bucket?.limit }

    /// When `admit` would start a task (nothing taken): `now` or the next token's time; nil
    /// while the concurrency limit is reached.
    mutating func nextStart(now: MonotonicInstant) -> MonotonicInstant? {
        if let concurrency, running >= concurrency { return nil }
        return bucket == nil ? now : bucket!.nextToken(now: now)
    }

    /// Takes a place for one task, or says when to ask again. The concurrency limit is checked
    /// first, so a full method does not spend rate tokens it cannot use.
    mutating func admit(now: MonotonicInstant) -> Admission {
        if let concurrency, running >= concurrency { return .full }
        if bucket != nil, !bucket!.take(now: now) { return .wait(until: bucket!.nextToken(now: now)) }
        running += 1
        return .start
    }

    /// A task the gate admitted has ended.
    mutating func finished() {
        running = Swift.max(0, running - 1)
    }

    /// Counts tasks already running when the gate was made (a broker restarted with tasks out,
    /// or a policy changed while tasks ran).
    mutating func adopt(running count: Int) {
        running = count
    }
}
