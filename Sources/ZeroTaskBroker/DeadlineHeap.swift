import ZeroTaskProtocol

/// Keys by the time they are due: a binary min-heap, so entries with different deadlines come
/// out in order at O(log n) each, and a sweep looks only at what is due.
///
/// Used for result expiry (`ResultExpiry`, keyed by task id) and for the deadlines of long polls
/// (`ResultWaiterSet`, `NodeWaiterSet`). An entry may outlive what it stands for: the owner
/// checks each due entry against its state as it is now.
struct DeadlineHeap<Key: Sendable>: Sendable {
    struct Entry: HeapOrdered {
        /// Monotonic time at which the entry is due.
        var at: MonotonicInstant
        var key: Key

        func precedes(_ other: Entry) -> Bool { at < other.at }
    }

    private var entries = BinaryHeap<Entry>()

    /// Every entry, in heap order.
    var heap: [Entry] { entries.elements }

    var count: Int { entries.count }

    /// The entry due first, without removing it.
    var first: Entry? { entries.first }

    mutating func push(at: MonotonicInstant, _ key: Key) { entries.push(Entry(at: at, key: key)) }

    /// Removes and returns the entry due first.
    @discardableResult
    mutating func popFirst() -> Entry? {
        guard let first = entries.first else { return nil }
        entries.popFirst()
        return first
    }

    /// Removes and returns every entry due at `now` (strictly before it), earliest first.
    mutating func popDue(now: MonotonicInstant) -> [Entry] {
        var due: [Entry] = []
        while let f = entries.first, f.at < now {
            due.append(f)
            entries.popFirst()
        }
        return due
    }

    /// Keeps only the entries `isLive` accepts, in O(n) (to drop stale entries in bulk).
    mutating func retain(_ isLive: (Entry) -> Bool) {
        entries = BinaryHeap(entries.elements.filter(isLive))
    }
}

/// Completed tasks by the time their results expire (each task's `result_ttl` or the broker's).
/// An entry may outlive its task (deleted some other way, or its id reused after expiry): the
/// sweep checks each due entry against the task as it is now.
typealias ResultExpiry = DeadlineHeap<String>
