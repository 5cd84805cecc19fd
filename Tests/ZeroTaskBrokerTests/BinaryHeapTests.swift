import Testing

@testable import ZeroTaskBroker

/// The heap under task queues, deadlines and a pull's competing methods.
@Suite struct BinaryHeapTests {
    struct Number: HeapOrdered {
        var value: Int
        func precedes(_ other: Number) -> Bool { value < other.value }
    }

    static func drain(_ h: inout BinaryHeap<Number>) -> [Int] {
        var out: [Int] = []
        while let f = h.first {
            out.append(f.value)
            h.popFirst()
        }
        return out
    }

    @Test func pushesHeapifyAndReplacementsAllComeOutInOrder() {
        var values: [Int] = []
        var seed: UInt64 = 42
        for _ in 0..<500 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            values.append(Int(seed >> 40) % 1000)
        }
        var pushed = BinaryHeap<Number>()
        for v in values { pushed.push(Number(value: v)) }
        #expect(Self.drain(&pushed) == values.sorted())

        var built = BinaryHeap(values.map(Number.init))
        #expect(built.count == values.count)
        #expect(Self.drain(&built) == values.sorted())

        // replaceFirst: the first taken out and another put in, in one sift.
        var replaced = BinaryHeap(values.map(Number.init))
        var taken: [Int] = []
        for v in [5000, 3, 7000] {
            taken.append(replaced.first!.value)
            replaced.replaceFirst(with: Number(value: v))
        }
        // The same as popping the first and pushing each new value, one after the other.
        var model = values
        var modelTaken: [Int] = []
        for v in [5000, 3, 7000] {
            model.sort()
            modelTaken.append(model.removeFirst())
            model.append(v)
        }
        #expect(taken == modelTaken)
        #expect(Self.drain(&replaced) == model.sorted())
        var empty = BinaryHeap<Number>()
        empty.replaceFirst(with: Number(value: 1))
        #expect(Self.drain(&empty) == [1])
    }
}
