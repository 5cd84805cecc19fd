import Foundation
import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The byte budgets on a real SQLite file: a finished task's params are dropped on disk too,
/// results evicted past `max_results` are deleted from the file, and a file written before
/// params were dropped loses them when a broker starts on it.
@Suite struct SQLiteBudgetTests {
    typealias Harness = BrokerStateTests.Harness
    typealias TempDir = SQLiteTaskStoreTests.TempDir

    static func journaling(_ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        var h = Harness(configure)
        h.state.journaling = true
        return h
    }

    @Test func droppedParamsAndEvictionsReachTheFile() throws {
        let dir = TempDir()
        let path = dir.path + "/store.sqlite"
        var h = Self.journaling { $0.maxResults = 1 }
        h.setUp()
        do {
            let store = try SQLiteTaskStore(path: path, synchronous: .normal)
            defer { store.close() }
            for n in ["a", "b"] {
                h.value(.submit(clientID: "alice", ResultBudgetTests.task(n, params: [ResultBudgetTests.kib])), peer: "C")
            }
            try store.write(h.state.takeChanges())
            #expect(try store.load().tasks.first { $0.id == "alice-a" }?.params == [ResultBudgetTests.kib])
            for id in Harness.ids(h.value(.pull(nodeID: "n1", max: 10, wait: nil, done: []), peer: "N")) {
                h.now += 1
                h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(7))), peer: "N")
                try store.write(h.state.takeChanges())
            }
        }
        let reopened = try SQLiteTaskStore(path: path, synchronous: .normal)
        defer { reopened.close() }
        let kept = try reopened.load().tasks
        #expect(kept.map(\.id) == ["alice-b"], "the evicted result must be deleted from the file")
        #expect(kept.first?.params == .null && kept.first?.result == 7)
    }

    @Test func aBrokerStartingOnAnOlderFileDropsFinishedParamsAndKeepsTheBudgets() throws {
        let dir = TempDir()
        let path = dir.path + "/store.sqlite"
        do {
            let store = try SQLiteTaskStore(path: path, synchronous: .normal)
            defer { store.close() }
            var c = StoreChanges()
            c.clients = [StoredClient(id: "alice", connected: true)]
            c.tasks = (0..<3).map { i in
                StoredTask(id: "alice-\(i)", clientID: "alice", method: "work", params: [ResultBudgetTests.kib], sequence: UInt64(i),
                    status: .finished, result: .int(Int64(i)), created: 1, finished: 1_799_999_000 + Double(i))
            } + [StoredTask(id: "alice-q", clientID: "alice", method: "work", params: [ResultBudgetTests.kib], sequence: 9, created: 1)]
            try store.write(c)
        }
        let store = try SQLiteTaskStore(path: path, synchronous: .normal)
        defer { store.close() }
        var h = Self.journaling { $0.maxResults = 2 }
        h.state.restore(try store.load(), now: 1000)
        // The oldest finished result is over the cap; the queued task keeps its params and counts.
        #expect(h.state.tasks.keys.sorted() == ["alice-1", "alice-2", "alice-q"])
        #expect(h.state.pendingBytes == h.state.tasks["alice-q"]!.paramsBytes)
        #expect(h.state.clients["alice"]?.pending == 1)
        try store.write(h.state.takeChanges())
        let kept = try store.load().tasks
        #expect(kept.map(\.id).sorted() == ["alice-1", "alice-2", "alice-q"])
        #expect(kept.filter { $0.status == .finished }.allSatisfy { $0.params == .null })
        #expect(kept.first { $0.id == "alice-q" }?.params == [ResultBudgetTests.kib])
    }
}
