import Foundation
import Testing
import ZeroTaskBroker
import ZeroTaskProtocol

/// The SQLite store on real files in a temporary directory.
@Suite struct SQLiteTaskStoreTests {
    /// A fresh directory, removed when the test ends.
    final class TempDir {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zt-store-\(UUID().uuidString)").path
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static let full = StoredTask(
        id: "alice-1", clientID: "alice", method: "math.add", params: ["a": 1, "b": [true, .null, "é\u{0}x"]],
        priority: -3, sequence: 41, timeout: 2.5, maxRetries: 7, attempts: 2, status: .failed, nodeID: nil,
        result: nil, error: RPCError(code: -32061, message: "worker crashed", data: ["signal": "SIGSEGV"]),
        created: 1_800_000_000.25, started: 1_800_000_001.5, finished: 1_800_000_002.75, notBefore: 1_800_000_001.25,
        retry: RetryPolicy(maxAttempts: 3, backoff: 0.25, factor: 3, maxBackoff: 10, jitter: 0, codes: [-32061, 5]),
        history: [FailedAttempt(attempt: 1, nodeID: "n1", error: RPCError(code: 5, message: "once", data: ["k": [1, 2]]), at: 1_800_000_001)],
        events: [TaskEvent(.requeued, at: 1_800_000_000.5, attempt: 1, nodeID: "n0", detail: "node n0 lost"),
                 TaskEvent(.progress, at: 1_800_000_001.25, attempt: 2, progress: ["step": "é"])])
    static let running = StoredTask(
        id: "alice-2", clientID: "alice", method: "m", params: [], sequence: 1 << 50, attempts: 1, status: .running,
        nodeID: "n1", created: 1, started: 2)
    static let done = StoredTask(
        id: "bob-x", clientID: "bob", method: "m", params: [1, 2], sequence: 3, status: .finished,
        result: ["big": .int(Int64.max), "f": 0.1], created: 1, finished: 3)

    static func changes(tasks: [StoredTask] = [], deleted: [String] = [], clients: [StoredClient] = [], deletedClients: [String] = [])
        -> StoreChanges
    {
        var c = StoreChanges()
        c.tasks = tasks
        c.deletedTasks = deleted
        c.clients = clients
        c.deletedClients = deletedClients
        return c
    }

    @Test func everyFieldSurvivesClosingAndOpeningAgain() throws {
        let dir = TempDir()
        let path = dir.path + "/nested/store.sqlite"
        do {
            let store = try SQLiteTaskStore(path: path)
            try store.write(Self.changes(tasks: [Self.full, Self.running, Self.done],
                clients: [StoredClient(id: "alice", connected: true), StoredClient(id: "bob", connected: false)]))
            store.close()
        }
        let again = try SQLiteTaskStore(path: path, synchronous: .normal)
        let loaded = try again.load()
        // In submission order.
        #expect(loaded.tasks == [Self.done, Self.full, Self.running])
        #expect(Set(loaded.clients.map(\.id)) == ["alice", "bob"])
        #expect(loaded.clients.first { $0.id == "bob" }?.connected == false)
        again.close()
    }

    @Test func laterWritesReplaceAndDelete() throws {
        let dir = TempDir()
        let path = dir.path + "/s.sqlite"
        let store = try SQLiteTaskStore(path: path)
        try store.write(Self.changes(tasks: [Self.running, Self.done], clients: [StoredClient(id: "alice", connected: true)]))
        var finished = Self.running
        finished.status = .finished
        finished.nodeID = nil
        finished.result = "ok"
        try store.write(Self.changes(tasks: [finished], deleted: ["bob-x"], deletedClients: ["alice"]))
        store.close()
        let loaded = try SQLiteTaskStore(path: path).load()
        #expect(loaded.tasks == [finished])
        #expect(loaded.clients.isEmpty)
    }

    @Test func aSecondBrokerOnTheSameFileIsRefusedUntilTheFirstCloses() throws {
        let dir = TempDir()
        let path = dir.path + "/s.sqlite"
        let first = try SQLiteTaskStore(path: path)
        try first.write(Self.changes(tasks: [Self.done]))
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "the store runs in WAL mode")
        do {
            _ = try SQLiteTaskStore(path: path)
            Issue.record("a second store opened a file in use")
        } catch {
            #expect(error.description.contains("in use by another broker"), "\(error)")
        }
        first.close()
        #expect(try SQLiteTaskStore(path: path).load().tasks == [Self.done])
    }

    @Test func anUnwritableLocationIsAClearError() {
        do {
            _ = try SQLiteTaskStore(path: "/proc/zerotask-cannot/s.sqlite")
            Issue.record("opened a store under /proc")
        } catch {
            #expect(error.description.hasPrefix("store sqlite:/proc/zerotask-cannot/s.sqlite: "), "\(error)")
        }
    }
}

/// What issue 17's routing and queue control keep in SQLite: a task's tags, the paused methods.
@Suite struct SQLiteTagsAndPausedTests {
    @Test func tagsAndPausedMethodsSurviveClosingAndOpeningAgain() throws {
        let dir = SQLiteTaskStoreTests.TempDir()
        let path = dir.path + "/store.sqlite"
        var tagged = SQLiteTaskStoreTests.running
        tagged.spec.tags = ["eu", "gpu"]
        do {
            let store = try SQLiteTaskStore(path: path)
            var c = StoreChanges()
            c.tasks = [tagged, SQLiteTaskStoreTests.done]
            c.pausedMethods = ["work", "math.add"]
            try store.write(c)
            var only = StoreChanges()
            only.pausedMethods = ["work"]  // written whole: math.add resumed
            try store.write(only)
            store.close()
        }
        let store = try SQLiteTaskStore(path: path)
        let loaded = try store.load()
        store.close()
        #expect(loaded.tasks.first { $0.id == tagged.id }?.spec.tags == ["eu", "gpu"])
        #expect(loaded.tasks.first { $0.id == SQLiteTaskStoreTests.done.id }?.spec.tags == [])
        #expect(loaded.pausedMethods == ["work"])
    }
}
