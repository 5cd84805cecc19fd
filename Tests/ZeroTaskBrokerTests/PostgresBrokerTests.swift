#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `zerotask broker --store postgres://…` as a real process on a real PostgreSQL server: what a
/// reply acknowledged survives the broker being killed, the password is found where users put
/// it, and a server restart under load costs nothing but a pause.
@Suite(.serialized) struct PostgresBrokerTests {
    static func broker(_ store: String, _ extra: [String] = [], environment: [String: String] = [:]) throws -> (ChildProcess, TestPeer) {
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", store, "--request", "tcp://127.0.0.1:*",
            "--publish", "tcp://127.0.0.1:*", "--http", "off"] + extra, environment: environment)
        let request = try listeningEndpoints(of: broker).request
        return (broker, try TestPeer(endpoint: request, context: ZMQContext(), .req))
    }

    /// Submits `count` tasks of `m` (params [i]) as client `c` in batches; returns their ids.
    static func submit(_ peer: TestPeer, from: Int, count: Int) throws -> [String] {
        var ids: [String] = []
        for start in stride(from: from, to: from + count, by: 100) {
            let batch: [JSONValue] = (start..<min(start + 100, from + count)).map { .array(["m", .array([.int(Int64($0))]), .string("t\($0)")]) }
            let answer = try peer.result("client_new_tasks", ["c", .array(batch)]).arrayValue ?? []
            ids += answer.compactMap(\.stringValue)
        }
        return ids
    }

    @Test func answeredTasksAndResultsSurviveAKilledBrokerAndThePasswordMayComeFromAFile() throws {
        let pg = try PostgresServer.shared.get()
        let url = try pg.createDatabase()
        var (broker, peer) = try Self.broker(url)
        #expect(try peer.result("client_connect", ["c"]) == "c")
        let ids = try Self.submit(peer, from: 0, count: 300)
        #expect(ids.count == 300)
        // A node finishes the first 100 (results reported in the next pull).
        #expect(try peer.result("node_connect", ["node_id": "n1", "methods": ["m"], "workers": 100]) == "n1")
        let pulled = try peer.result("node_task_pull", ["n1", 100]).arrayValue ?? []
        #expect(pulled.count == 100)
        let done: [JSONValue] = pulled.map { .object(["id": $0["id"]!, "result": .int(($0["params"]?.arrayValue?.first?.int64Value ?? 0) * 2)]) }
        _ = try peer.result("node_tasks_done", ["n1", .array(done)])
        broker.signal(SIGKILL)
        broker.waitForExit()

        // Again, the password from a file instead of the URL.
        let passwordFile = FixturePlugins.temporaryDirectory("zt-pgpass") + "/password"
        try (PostgresServer.password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let bare = url.replacingOccurrences(of: ":\(PostgresServer.password)@", with: "@")
        (broker, peer) = try Self.broker(bare, ["--store-password-file", passwordFile])
        defer { broker.stop() }
        let first = pulled.compactMap { $0["id"]?.stringValue }
        for id in first {
            let i = Int64(id.split(separator: "t").last.flatMap { Int64($0) } ?? -1)
            #expect(try peer.result("client_task_result", ["c", .string(id)]) == .int(i * 2), "\(id)")
        }
        // The other 200 are queued still, and a node gets them.
        #expect(try peer.result("node_connect", ["node_id": "n2", "methods": ["m"], "workers": 500]) == "n2")
        let rest = try peer.result("node_task_pull", ["n2", 500]).arrayValue ?? []
        #expect(Set(rest.compactMap { $0["id"]?.stringValue }) == Set(ids).subtracting(first))
    }

    @Test func aBrokerFindsThePasswordInPGPASSWORDAndRefusesToStartWithoutOne() throws {
        let pg = try PostgresServer.shared.get()
        let url = try pg.createDatabase()
        let bare = url.replacingOccurrences(of: ":\(PostgresServer.password)@", with: "@")
        let refused = try ChildProcess(Binaries.zerotask, ["broker", "--store", bare, "--request", "tcp://127.0.0.1:*",
            "--publish", "tcp://127.0.0.1:*"], environment: ["PGPASSWORD": "", "PGPASSFILE": "/nonexistent"])
        #expect(refused.waitForExit(seconds: 60) != 0)
        #expect(refused.output.contains(bare) && refused.output.contains("cannot connect"), "\(refused.output)")
        #expect(!refused.output.contains(PostgresServer.password))

        let (broker, peer) = try Self.broker(bare, environment: ["PGPASSWORD": PostgresServer.password])
        defer { broker.stop() }
        #expect(try peer.result("client_connect", ["c"]) == "c")
    }

    @Test func aPostgreSQLRestartUnderLoadLosesNoAnsweredSubmission() throws {
        // A server of its own: the shared one must not restart under the other tests.
        let pg = try PostgresServer()
        let url = try pg.createDatabase()
        var (broker, peer) = try Self.broker(url)
        #expect(try peer.result("client_connect", ["c"]) == "c")
        var ids = try Self.submit(peer, from: 0, count: 200)
        try pg.restart()
        // The first commit after the restart fails; the broker holds the replies, connects
        // again and answers once the rows are in.
        ids += try Self.submit(peer, from: 200, count: 200)
        #expect(ids.count == 400)
        #expect(broker.output.contains("written again after"), "\(broker.output)")
        broker.signal(SIGKILL)
        broker.waitForExit()
        (broker, peer) = try Self.broker(url)
        defer { broker.stop() }
        #expect(try peer.result("node_connect", ["node_id": "n1", "methods": ["m"], "workers": 1000]) == "n1")
        let pulled = try peer.result("node_task_pull", ["n1", 1000]).arrayValue ?? []
        #expect(Set(pulled.compactMap { $0["id"]?.stringValue }) == Set(ids))
    }
}
