/// What a `BinaryHeap` orders: `precedes` says which of two comes out first.
protocol HeapOrdered: Sendable {
    func precedes(_ other: Self) -> Bool
}

/// A binary heap, the element that `precedes` all others first: O(log n) push and pop.
struct BinaryHeap<Element: HeapOrdered>: Sendable {
    private(set) var elements: [Element] = []

    init() {}

    /// Heapifies `elements` in O(n).
    init(_ elements: [Element]) {
        self.elements = elements
        var i = elements.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    var count: Int { elements.count }
    var isEmpty: Bool { elements.isEmpty }

    /// The first element, without removing it.
    var first: Element? { elements.first }

    mutating func reserveCapacity(_ n: Int) { elements.reserveCapacity(n) }

    mutating func push(_ e: Element) {
        elements.append(e)
        var i = elements.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard elements[i].precedes(elements[parent]) else { break }
            elements.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popFirst() {
        guard !elements.isEmpty else { return }
        let last = elements.removeLast()
        guard !elements.isEmpty else { return }
        elements[0] = last
        siftDown(0)
    }

    /// Replaces the first element (cheaper than a pop and a push).
    mutating func replaceFirst(with e: Element) {
        guard !elements.isEmpty else { return push(e) }
        elements[0] = e
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = elements.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n && elements[l].precedes(elements[best]) { best = l }
            if r < n && elements[r].precedes(elements[best]) { best = r }
            if best == i { break }
            elements.swapAt(i, best)
            i = best
        }
    }
}
