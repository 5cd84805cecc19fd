import Foundation
import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The recorded timeline (`TaskEvent`, `admin_task`'s `timeline`) on the broker's rules, with a
/// wall clock the test moves: what a task's fields would forget is recorded, bounded, and a
/// task that runs once without progress records nothing.
@Suite struct BrokerStateTimelineTests {
    typealias Harness = BrokerStateTests.Harness

    final class Wall: @unchecked Sendable { var now: WallInstant = 1_800_000_000 }

    static func harness(_ wall: Wall, _ configure: (inout BrokerConfig) -> Void = { _ in }) -> Harness {
        var h = Harness(configure)
        h.state = BrokerState(config: h.state.config, wallClock: { wall.now }, idPrefix: "x.")
        h.setUp()
        return h
    }

    /// The connection each node registered from (`setUp`: n1 from "N").
    static func peer(_ node: String) -> String { node == "n1" ? "N" : "N2" }

    static func pull(_ h: inout Harness, _ node: String) -> [String] {
        (h.value(.pull(nodeID: node, max: 10, wait: nil, done: []), peer: peer(node)).arrayValue ?? []).compactMap { $0["id"]?.stringValue }
    }

    static func finish(_ h: inout Harness, _ node: String, _ id: String, _ result: JSONValue = 1) {
        h.value(.report(nodeID: node, .init(taskID: id, outcome: .success(result))), peer: peer(node))
    }

    /// The timeline's `event` names, in order.
    static func events(_ h: inout Harness, _ id: String) -> [String] {
        (h.value(.adminTask(taskID: id), peer: "A")["timeline"]?.arrayValue ?? []).compactMap { $0["event"]?.stringValue }
    }

    @Test func aTaskThatRunsOnceRecordsNothingAndShowsItsFields() {
        let wall = Wall()
        var h = Self.harness(wall)
        h.submit("a")
        wall.now += 1
        #expect(Self.pull(&h, "n1") == ["alice-a"])
        wall.now += 1
        Self.finish(&h, "n1", "alice-a")
        #expect(h.state.tasks["alice-a"]?.events == [])
        #expect(Self.events(&h, "alice-a") == ["submitted", "started (attempt 1)", "finished"])
    }

    @Test func aLostNodesAttemptStaysInTheTimelineWithTheRequeue() {
        let wall = Wall()
        var h = Self.harness(wall)
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: 0, capacity: nil, unavailable: [:]), peer: "N2")
        h.submit("a")
        wall.now += 1
        #expect(Self.pull(&h, "n1") == ["alice-a"])
        wall.now += 1
        h.value(.nodeDisconnect(nodeID: "n1"), peer: "N")
        wall.now += 1
        #expect(Self.pull(&h, "n2") == ["alice-a"])
        wall.now += 1
        Self.finish(&h, "n2", "alice-a")
        #expect(Self.events(&h, "alice-a") == ["submitted", "started (attempt 1)", "requeued", "started (attempt 2)", "finished"])
        let timeline = h.value(.adminTask(taskID: "alice-a"), peer: "A")["timeline"]?.arrayValue ?? []
        #expect(timeline[1]["node_id"] == "n1" && timeline[3]["node_id"] == "n2")
        #expect(timeline[2]["detail"]?.stringValue?.contains("n1") == true, "\(timeline[2])")
        #expect(timeline[1]["at"] == .double(1_800_000_001) && timeline[2]["at"] == .double(1_800_000_002))
    }

    @Test func progressIsSampledAtMostOnceASecondAndBounded() {
        let wall = Wall()
        var h = Self.harness(wall)
        h.submit("p")
        #expect(Self.pull(&h, "n1") == ["alice-p"])
        func report(_ n: Int) {
            h.value(.taskStatus(nodeID: "n1", taskID: "alice-p", status: .running, fields: ["done": .int(Int64(n))]), peer: "N")
        }
        for n in 0..<5 { report(n) }  // within a second of its start: no sample
        #expect(h.state.tasks["alice-p"]?.events == [])
        // The latest report shows all the same (without a time).
        #expect(Self.events(&h, "alice-p") == ["submitted", "started (attempt 1)", "progress"])
        wall.now += 1
        report(5)
        report(6)  // the same second as the sample before
        #expect(h.state.tasks["alice-p"]?.events.map(\.progress) == [["done": 5]])
        #expect(Self.events(&h, "alice-p") == ["submitted", "started (attempt 1)", "progress", "progress"])
        for n in 7..<200 {
            wall.now += 1
            report(n)
        }
        var events = h.state.tasks["alice-p"]?.events ?? []
        // Full: the latest sample replaces the one before it; the first stays.
        #expect(events.count == TaskEvent.maxPerTask)
        #expect(events.first?.progress == ["done": 5] && events.last?.progress == ["done": 199])
        // Other events still get in, in place of the oldest samples.
        h.value(.nodeDisconnect(nodeID: "n1"), peer: "N")
        events = h.state.tasks["alice-p"]?.events ?? []
        #expect(events.count == TaskEvent.maxPerTask)
        #expect(events.suffix(2).map(\.kind) == [.started, .requeued])
        #expect(events.first?.progress != ["done": 5])
    }

    @Test func anAdminRetryKeepsTheFailureItClears() {
        let wall = Wall()
        var h = Self.harness(wall)
        h.submit("f")
        #expect(Self.pull(&h, "n1") == ["alice-f"])
        wall.now += 1
        h.value(.report(nodeID: "n1", .init(taskID: "alice-f", outcome: .failure(RPCError(code: 9, message: "bad input")))), peer: "N")
        wall.now += 1
        #expect(h.value(.adminAct(.retry, .ids(["alice-f"])), peer: "A")["retried"] == ["alice-f"])
        wall.now += 1
        #expect(Self.pull(&h, "n1") == ["alice-f"])
        Self.finish(&h, "n1", "alice-f")
        #expect(Self.events(&h, "alice-f") == [
            "submitted", "started (attempt 1)", "attempt 1 failed: bad input", "retried by an admin", "started (attempt 1)", "finished",
        ])
    }

    @Test func eventsSurviveTheStoreAndARestart() throws {
        let wall = Wall()
        var h = Self.harness(wall)
        h.state.journaling = true
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: 0, capacity: nil, unavailable: [:]), peer: "N2")
        h.submit("a")
        #expect(Self.pull(&h, "n1") == ["alice-a"])
        wall.now += 1
        h.value(.nodeDisconnect(nodeID: "n1"), peer: "N")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("zt-timeline-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteTaskStore(path: path)
        try store.write(h.state.takeChanges())
        store.close()
        let reopened = try SQLiteTaskStore(path: path)
        defer { reopened.close() }
        let loaded = try reopened.load()
        let events = loaded.tasks.first { $0.id == "alice-a" }?.events ?? []
        #expect(events.map(\.kind) == [.started, .requeued])
        #expect(events.first?.nodeID == "n1")
        var after = Self.harness(wall)
        after.state.restore(loaded, now: 0)
        #expect(Self.events(&after, "alice-a") == ["submitted", "started (attempt 1)", "requeued"])
    }
}
