import Testing
import ZeroTaskBroker

/// The broker's event log lines: at most `limit` per kind per interval, then one "…and K
/// more" line when the interval ends; kinds counted apart; levels and metadata per event.
@Suite struct BrokerEventLogTests {
    static func failure(_ i: Int) -> BrokerEvent {
        .taskFailed(taskID: "c-\(i)", method: "math.div", code: -32602, message: "division by zero")
    }

    @Test func atMostLimitLinesPerKindThenOneSummaryWhenTheIntervalEnds() {
        var log = BrokerEventLog(limit: 3, interval: 10)
        let first = log.lines(for: (0..<5).map(Self.failure), now: 100)
        #expect(first.map(\.message) == (0..<3).map { "task c-\($0) (math.div) failed: division by zero (code -32602)" })
        #expect(log.lines(for: [Self.failure(5)], now: 105).isEmpty)
        #expect(log.summaries(now: 109.9).isEmpty)
        let summary = log.summaries(now: 110)
        #expect(summary.map(\.message) == ["…and 3 more task_failed events in 10 s (at most 3 logged per 10 s)"])
        #expect(summary.first?.metadata == ["kind": "task_failed", "suppressed": "3"])
        #expect(log.summaries(now: 200).isEmpty)
        // A fresh interval: lines again.
        #expect(log.lines(for: [Self.failure(6)], now: 201).count == 1)
    }

    @Test func kindsAreCountedApartAndAQuietIntervalSaysNothing() {
        var log = BrokerEventLog(limit: 1, interval: 10)
        let lines = log.lines(for: [
            Self.failure(1), Self.failure(2),
            .taskRequeued(taskID: "c-3", method: "m", cause: "node n1 silent for 5 s"),
            .nodeJoined(nodeID: "n2", methods: 3, workers: 2),
        ], now: 0)
        #expect(lines.map(\.metadata["kind"]) == ["task_failed", "task_requeued", "node_joined"])
        #expect(lines[1].message == "task c-3 (m) queued again: node n1 silent for 5 s")
        let summary = log.lines(for: [.nodeJoined(nodeID: "n3", methods: 1, workers: 1)], now: 10)
        // The interval's summary first, then the new interval's first line.
        #expect(summary.map(\.message) == ["…and 1 more task_failed events in 10 s (at most 1 logged per 10 s)", "node n3 joined: 1 methods, 1 workers"])
    }

    @Test func levelsAndMetadataSayWhatHappenedAndToWhat() {
        var log = BrokerEventLog()
        let lines = log.lines(for: [
            Self.failure(1),
            .nodeLost(nodeID: "n1", reason: "silent for 9 s", requeued: 2, failed: 0),
            .nodeJoined(nodeID: "n2", methods: 1, workers: 1),
            .pluginsQuarantined(nodeID: "n2", reasons: ["Plugins/x.so: crashed while loading"]),
        ], now: 0)
        #expect(lines.map(\.level) == [.info, .warning, .notice, .warning])
        #expect(lines[0].metadata == ["kind": "task_failed", "task_id": "c-1", "method": "math.div", "code": "-32602"])
        #expect(lines[1].metadata == ["kind": "node_lost", "node_id": "n1"])
        #expect(lines[3].message.contains("Plugins/x.so: crashed while loading"))
    }
}
