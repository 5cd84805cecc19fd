import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

@testable import ZeroTaskBroker

/// A task's own `result_ttl` in the SQLite store: schema version 2, the migration from version 1
/// files, and a real broker that deletes a result after it across a reopen of its store.
@Suite struct SQLiteResultTTLTests {
    typealias TempDir = SQLiteTaskStoreTests.TempDir

    /// The version 1 schema exactly as zerotask wrote it before result_ttl existed.
    static let versionOneSchema = """
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY NOT NULL, client_id TEXT NOT NULL, method TEXT NOT NULL, params TEXT NOT NULL,
            priority INTEGER NOT NULL, sequence INTEGER NOT NULL, timeout REAL, max_retries INTEGER NOT NULL,
            attempts INTEGER NOT NULL, status INTEGER NOT NULL, node_id TEXT, result TEXT, error TEXT,
            created REAL NOT NULL, started REAL, finished REAL
        ) WITHOUT ROWID;
        CREATE TABLE clients (id TEXT PRIMARY KEY NOT NULL, connected INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO tasks VALUES ('old-1', 'old', 'math.add', '[1,2]', 0, 5, NULL, 3, 1, 7000, NULL, '3', NULL, 10.5, 11, 12);
        INSERT INTO tasks VALUES ('old-2', 'old', 'math.add', '[]', 2, 6, 1.5, 0, 0, 1000, NULL, NULL, NULL, 13, NULL, NULL);
        INSERT INTO clients VALUES ('old', 1);
        PRAGMA user_version = 1;
        """

    static func userVersion(_ path: String) throws -> String? {
        let c = try SQLiteConnection(path: path)
        defer { c.close() }
        return try c.text("PRAGMA user_version")
    }

    @Test func aTasksResultTTLSurvivesClosingAndOpeningAgain() throws {
        let dir = TempDir()
        let path = dir.path + "/s.sqlite"
        var short = SQLiteTaskStoreTests.done
        short.resultTTL = 2.5
        let plain = SQLiteTaskStoreTests.running
        let store = try SQLiteTaskStore(path: path)
        var c = StoreChanges()
        c.tasks = [short, plain]
        try store.write(c)
        store.close()
        let loaded = try SQLiteTaskStore(path: path).load()
        #expect(loaded.tasks == [short, plain])
        #expect(loaded.tasks.map(\.resultTTL) == [2.5, nil])
        #expect(try Self.userVersion(path) == "3")
    }

    @Test func aVersionOneFileIsMigratedInPlaceAndKeepsEverything() throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let path = dir.path + "/v1.sqlite"
        do {
            let c = try SQLiteConnection(path: path)
            try c.execute(Self.versionOneSchema)
            c.close()
        }
        let store = try SQLiteTaskStore(path: path)
        let loaded = try store.load()
        #expect(loaded.tasks.map(\.id) == ["old-1", "old-2"])
        #expect(loaded.tasks[0].result == 3)
        #expect(loaded.tasks[0].status == .finished)
        #expect(loaded.tasks[1].timeout == 1.5)
        #expect(loaded.tasks.allSatisfy { $0.resultTTL == nil })
        #expect(loaded.clients == [StoredClient(id: "old", connected: true)])
        // The migrated file takes the new column.
        var changed = loaded.tasks[1]
        changed.resultTTL = 60
        var c = StoreChanges()
        c.tasks = [changed]
        try store.write(c)
        store.close()
        #expect(try Self.userVersion(path) == "3")
        let again = try SQLiteTaskStore(path: path)
        #expect(try again.load().tasks.map(\.resultTTL) == [nil, 60])
        again.close()
    }

    @Test func aFileFromANewerSchemaIsRefusedUntouched() throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        let path = dir.path + "/v9.sqlite"
        do {
            let c = try SQLiteConnection(path: path)
            try c.execute("CREATE TABLE tasks (id TEXT PRIMARY KEY); PRAGMA user_version = 9;")
            c.close()
        }
        do {
            _ = try SQLiteTaskStore(path: path)
            Issue.record("opened a version 9 file")
        } catch {
            #expect(error.description.contains("schema version 9"), "\(error)")
        }
        #expect(try Self.userVersion(path) == "9")
    }

    /// A real broker thread and sockets on a SQLite file: a result with a short `result_ttl`
    /// is deleted after it even across a restart of the broker on the same file, while one
    /// with a long TTL stays.
    @Test func aRealBrokerDeletesAResultAfterItsOwnTTLAcrossAReopen() throws {
        let dir = TempDir()
        let path = dir.path + "/broker.sqlite"
        let context = ZMQContext()
        func startBroker() throws -> BrokerService {
            let service = BrokerService(
                request: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*",
                store: try SQLiteTaskStore(path: path, synchronous: .normal), context: context)
            try service.start()
            return service
        }
        var broker = try startBroker()
        do {
            let client = try TestPeer(endpoint: broker.boundRequestEndpoint, context: context)
            let node = try TestPeer(endpoint: broker.boundRequestEndpoint, context: context)
            #expect(try client.result("client_connect", ["keeper"]) == "keeper")
            #expect(try node.result("node_connect", ["node_id": "n1", "methods": ["work"]]) == "n1")
            for (name, ttl) in [("short", 2.0), ("long", 3600.0)] {
                _ = try client.result("client_new_task", ["client_id": "keeper", "method": "work", "params": [],
                    "task_id": .string(name), "result_ttl": .double(ttl)])
            }
            let pulled = try node.result("node_task_pull", ["n1", 10])
            #expect(pulled.arrayValue?.count == 2)
            for id in ["keeper-short", "keeper-long"] {
                #expect(try node.result("node_task_finished", ["node_id": "n1", "task_id": .string(id), "result": .string(id)]) == true)
            }
        }
        broker.stop()
        // What the file holds: each task's own TTL.
        do {
            let store = try SQLiteTaskStore(path: path)
            let tasks = try store.load().tasks
            store.close()
            #expect(Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0.resultTTL) }) == ["keeper-short": 2, "keeper-long": 3600])
        }
        broker = try startBroker()
        defer { broker.stop() }
        let client = try TestPeer(endpoint: broker.boundRequestEndpoint, context: context)
        // The short one goes (2 s after it finished, at the next sweep); the long one stays.
        #expect(try eventually(30) {
            try client.call("client_task_result", ["keeper", "keeper-short"]).outcome.failureCode == ErrorCode.invalidTaskID.rawValue
        })
        #expect(try client.result("client_task_result", ["keeper", "keeper-long"]) == "keeper-long")
        #expect(try client.result("client_task_info", ["keeper", "keeper-long"])["result_ttl"]?.doubleValue == 3600)
        broker.stop()
        // And the deletion was written: the file holds only the long one now.
        let store = try SQLiteTaskStore(path: path)
        #expect(try store.load().tasks.map(\.id) == ["keeper-long"])
        store.close()
    }
}


