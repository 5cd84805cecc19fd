/// Keys by the time they are due: a binary min-heap, so entries with different deadlines come
/// out in order at O(log n) each, and a sweep looks only at what is due.
///
/// Used for result expiry (`ResultExpiry`, keyed by task id) and for the deadlines of clients'
/// long polls (`ResultWaiterSet`). An entry may outlive what it stands for: the owner checks each
/// due entry against its state as it is now.
struct DeadlineHeap<Key: Sendable>: Sendable {
    struct Entry: Sendable {
        /// Monotonic time at which the entry is due.
        var at: Double
        var key: Key
    }

    private(set) var heap: [Entry] = []

    var count: Int { heap.count }

    /// The entry due first, without removing it.
    var first: Entry? { heap.first }

    mutating func push(at: Double, _ key: Key) {
        heap.append(Entry(at: at, key: key))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].at < heap[parent].at else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the entry due first.
    @discardableResult
    mutating func popFirst() -> Entry? {
        guard !heap.isEmpty else { return nil }
        let first = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first }
        heap[0] = last
        siftDown(0)
        return first
    }

    /// Removes and returns every entry due at `now` (strictly before it), earliest first.
    mutating func popDue(now: Double) -> [Entry] {
        var due: [Entry] = []
        while let f = heap.first, f.at < now {
            due.append(popFirst()!)
        }
        return due
    }

    /// Keeps only the entries `isLive` accepts, in O(n) (to drop stale entries in bulk).
    mutating func retain(_ isLive: (Entry) -> Bool) {
        heap.removeAll { !isLive($0) }
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n && heap[l].at < heap[best].at { best = l }
            if r < n && heap[r].at < heap[best].at { best = r }
            if best == i { break }
            heap.swapAt(i, best)
            i = best
        }
    }
}

/// Completed tasks by the time their results expire (each task's `result_ttl` or the broker's).
/// An entry may outlive its task (deleted some other way, or its id reused after expiry): the
/// sweep checks each due entry against the task as it is now.
typealias ResultExpiry = DeadlineHeap<String>
