import ZeroTaskProtocol

/// The completed tasks the broker keeps for their results, bounded by count and by bytes: past
/// either cap the oldest results are deleted before their `result_ttl` (BENCHMARKS.md, "Memory
/// under attack": results kept for a day were bounded by nothing but time).
///
/// Completions are kept in order in a FIFO; an entry whose task has since gone (expired, or its
/// id reused by a newer task) is skipped when it reaches the front, so every operation is O(1)
/// amortized whatever the order of expiries. Results that leave by expiry (or any way but
/// eviction) leave their entry behind: the owner drops those with `retain` once they are most
/// of the FIFO (`isMostlyStale`), or the FIFO would grow by one entry per task for good.
struct ResultBudget: Sendable {
    struct Entry: Sendable {
        var taskID: String
        /// The completion it stands for (monotonic), to tell it from a later task with the same id.
        var completedAt: MonotonicInstant
    }

    /// Bytes counted for a kept task besides its result (see `BrokerState.resultBytes`).
    static let recordOverhead = 512

    private var order: [Entry] = []
    private var head = 0
    /// Completed tasks kept.
    private(set) var count = 0
    /// How many of them failed.
    private(set) var failed = 0
    /// Bytes of their results and errors (as `JSONValue.approximateByteCount` counts them), plus
    /// `recordOverhead` each.
    private(set) var bytes = 0
    /// Results deleted early to stay within the caps, since the broker started.
    private(set) var evicted = 0
    /// `evicted` when the operator was last told, and when (monotonic).
    var reportedEvictions = 0
    var lastReport = MonotonicInstant.distantPast

    mutating func added(_ taskID: String, completedAt: MonotonicInstant, bytes b: Int, failed f: Bool) {
        order.append(Entry(taskID: taskID, completedAt: completedAt))
        count += 1
        bytes += b
        if f { failed += 1 }
    }

    mutating func removed(bytes b: Int, failed f: Bool) {
        count -= 1
        bytes -= b
        if f { failed -= 1 }
    }

    /// The oldest completion still queued for eviction, stale or not; nil when there is none.
    mutating func popOldest() -> Entry? {
        guard head < order.count else { return nil }
        let e = order[head]
        head += 1
        // Drop the consumed front once it is most of the array: amortized O(1) per entry.
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return e
    }

    mutating func countEviction() { evicted += 1 }

    /// Entries in the FIFO, stale ones included.
    var queuedEntries: Int { order.count - head }

    /// Whether the FIFO holds more stale entries (of results gone since) than live ones, and
    /// enough to be worth a pass: time to `retain` the live ones. Each kept result has one.
    var isMostlyStale: Bool { queuedEntries > 1024 && queuedEntries > 2 * count }

    /// Keeps only the entries `isLive` accepts, in completion order, in O(n) (to drop the
    /// entries of expired results in bulk).
    mutating func retain(_ isLive: (Entry) -> Bool) {
        order = order[head...].filter(isLive)
        head = 0
    }

    func isOver(maxCount: Int, maxBytes: Int) -> Bool { count > maxCount || bytes > maxBytes }
}

extension JSONValue {
    /// About how many bytes the value takes as JSON text: what budgets count, without encoding.
    /// Linear in the value's size, and O(1) for a string (its UTF-8 count is stored).
    var approximateByteCount: Int {
        switch self {
        case .null, .bool: return 5
        case .int, .uint, .double: return 8
        case .string(let s): return s.utf8.count + 2
        case .array(let a):
            var n = 2
            for v in a { n += v.approximateByteCount + 1 }
            return n
        case .object(let o):
            var n = 2
            for m in o.members { n += m.key.utf8.count + 4 + m.value.approximateByteCount }
            return n
        }
    }
}
