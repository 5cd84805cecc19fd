import Testing

@testable import ZeroTaskBroker

/// The per-method heap: order, lazy removal, compaction.
@Suite struct TaskQueueTests {
    /// A repeatable shuffle (no system randomness in tests).
    private func shuffled<T>(_ items: [T], seed: UInt64) -> [T] {
        var a = items
        var s = seed
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            a.swapAt(i, Int((s >> 33) % UInt64(i + 1)))
        }
        return a
    }

    private func drain(_ q: inout TaskQueue) -> [String] {
        var out: [String] = []
        while let top = q.top {
            out.append(top.taskID)
            q.popTop()
        }
        return out
    }

    @Test func popsByPriorityThenSequence() {
        var entries: [TaskQueue.Entry] = []
        for seq in 0..<500 {
            entries.append(TaskQueue.Entry(priority: Int64(seq % 7) - 3, sequence: UInt64(seq), taskID: "t\(seq)"))
        }
        let expected = entries.sorted { $0.priority != $1.priority ? $0.priority > $1.priority : $0.sequence < $1.sequence }
            .map(\.taskID)
        var q = TaskQueue()
        for e in shuffled(entries, seed: 42) { q.push(e) }
        #expect(q.liveCount == 500)
        #expect(!q.isEmpty)
        #expect(drain(&q) == expected)
        q.popTop()  // popping an empty heap is harmless
        #expect(q.top == nil)
    }

    @Test func extremePriorities() {
        var q = TaskQueue()
        q.push(.init(priority: Int64.min, sequence: 0, taskID: "low"))
        q.push(.init(priority: Int64.max, sequence: 1, taskID: "high"))
        q.push(.init(priority: 0, sequence: 2, taskID: "mid"))
        #expect(drain(&q) == ["high", "mid", "low"])
    }

    /// The broker cancels a queued task by count only: its entry stays in the heap (no O(n)
    /// search) and the next pull skips it on the way to the live task behind it.
    @Test func removalIsLazy() {
        var h = BrokerStateTests.Harness()
        h.setUp()
        for name in ["a", "b", "c"] { h.submit(name) }
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C") == true)
        #expect(h.state.queues["work"]?.heap.count == 3)
        #expect(h.state.queues["work"]?.liveCount == 2)
        #expect(h.state.queues["work"]?.top?.taskID == "alice-a")  // stale, still on top
        #expect(BrokerStateTests.Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) == ["alice-b"])
        // The pull popped the stale entry with the one it took.
        #expect(h.state.queues["work"]?.heap.count == 1)
        #expect(h.state.queues["work"]?.liveCount == 1)
    }

    @Test func compactionDropsStaleEntriesAndKeepsOrder() {
        var q = TaskQueue()
        for i in 0..<3000 { q.push(.init(priority: Int64(i % 3), sequence: UInt64(i), taskID: "t\(i)")) }
        let live = Set((0..<3000).filter { $0 % 4 == 0 }.map { "t\($0)" })
        q.liveCount = live.count
        q.compactIfNeeded { live.contains($0) }
        #expect(q.heap.count == live.count)
        #expect(q.liveCount == live.count)
        let order = drain(&q)
        #expect(Set(order) == live)
        let seqs = order.map { Int($0.dropFirst())! }
        #expect(seqs == seqs.sorted { ($0 % 3, -$0) > ($1 % 3, -$1) })
    }

    @Test func smallOrMostlyLiveHeapsAreNotCompacted() {
        var q = TaskQueue()
        for i in 0..<1000 { q.push(.init(priority: 0, sequence: UInt64(i), taskID: "t\(i)")) }
        q.liveCount = 1
        q.compactIfNeeded { _ in false }
        #expect(q.heap.count == 1000)  // at most 1024 entries: never worth it

        var r = TaskQueue()
        for i in 0..<3000 { r.push(.init(priority: 0, sequence: UInt64(i), taskID: "t\(i)")) }
        r.liveCount = 1500
        r.compactIfNeeded { _ in false }
        #expect(r.heap.count == 3000)  // stale entries do not outnumber live ones
    }
}
