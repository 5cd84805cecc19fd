/// When each completed task's result is due for deletion: a binary min-heap keyed by expiry
/// time, so results with different `result_ttl`s expire in order at O(log n) each, and a sweep
/// looks only at what is due.
///
/// An entry may outlive its task (deleted some other way, or its id reused after expiry): the
/// sweep checks each due entry against the task as it is now.
struct ResultExpiry: Sendable {
    struct Entry: Sendable {
        /// Monotonic time at which the result may be deleted.
        var at: Double
        var taskID: String
    }

    private(set) var heap: [Entry] = []

    var count: Int { heap.count }

    /// The entry due first, without removing it.
    var first: Entry? { heap.first }

    mutating func push(at: Double, taskID: String) {
        heap.append(Entry(at: at, taskID: taskID))
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
        var i = 0
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
        return first
    }

    /// Removes and returns every entry due at `now` (expiry strictly before it), earliest first.
    mutating func popDue(now: Double) -> [Entry] {
        var due: [Entry] = []
        while let f = heap.first, f.at < now {
            due.append(popFirst()!)
        }
        return due
    }
}
