import Testing
import ZeroTaskBroker
import ZeroTaskHTTP

/// The Prometheus page `BrokerMetrics` renders from what the broker tells it.
@Suite struct BrokerMetricsTests {
    static func sample(_ page: String, _ series: String) -> Double? {
        for line in page.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func countsEachTransitionByMethodAndTimesRunsAndWaits() {
        let m = BrokerMetrics()
        m.taskSubmitted(method: "a.x")
        m.taskSubmitted(method: "a.x")
        m.taskStarted(method: "a.x", queueWait: 0.002)
        m.taskStarted(method: "a.x", queueWait: nil)
        m.taskRetried(method: "a.x")
        m.taskCompleted(method: "a.x", outcome: .succeeded, runSeconds: 0.5)
        m.taskCompleted(method: "a.x", outcome: .failed, runSeconds: 2)
        m.taskCompleted(method: "b.y", outcome: .cancelled, runSeconds: nil)
        m.storeCommitted(seconds: 0.001)
        let page = String(decoding: m.render(nil), as: UTF8.self)
        #expect(Self.sample(page, #"zerotask_tasks_submitted_total{method="a.x"}"#) == 2)
        #expect(Self.sample(page, #"zerotask_tasks_started_total{method="a.x"}"#) == 2)
        #expect(Self.sample(page, #"zerotask_tasks_retried_total{method="a.x"}"#) == 1)
        #expect(Self.sample(page, #"zerotask_tasks_succeeded_total{method="a.x"}"#) == 1)
        #expect(Self.sample(page, #"zerotask_tasks_failed_total{method="a.x"}"#) == 1)
        #expect(Self.sample(page, #"zerotask_tasks_cancelled_total{method="b.y"}"#) == 1)
        #expect(Self.sample(page, #"zerotask_task_run_seconds_count{method="a.x"}"#) == 2)
        #expect(Self.sample(page, #"zerotask_task_run_seconds_sum{method="a.x"}"#) == 2.5)
        #expect(Self.sample(page, #"zerotask_task_run_seconds_bucket{method="a.x",le="1.0"}"#) == 1)
        // Only the first attempt's wait is timed.
        #expect(Self.sample(page, #"zerotask_task_queue_wait_seconds_count{method="a.x"}"#) == 1)
        #expect(Self.sample(page, "zerotask_store_commit_seconds_count") == 1)
    }

    @Test func aTurnsTransitionsCountTheSameAsSingleCalls() {
        var turn = TaskObservations()
        var a = TaskObservations.Counts()
        a.submitted = 3
        a.started = 2
        a.succeeded = 2
        a.queueWaits = [0.002]
        a.runs = [0.5, 2]
        turn.byMethod["a.x"] = a
        var b = TaskObservations.Counts()
        b.failed = 1
        b.retried = 1
        turn.byMethod["b.y"] = b
        let m = BrokerMetrics()
        m.record(turn)
        m.record(turn)
        let page = String(decoding: m.render(nil), as: UTF8.self)
        #expect(Self.sample(page, #"zerotask_tasks_submitted_total{method="a.x"}"#) == 6)
        #expect(Self.sample(page, #"zerotask_tasks_started_total{method="a.x"}"#) == 4)
        #expect(Self.sample(page, #"zerotask_tasks_succeeded_total{method="a.x"}"#) == 4)
        #expect(Self.sample(page, #"zerotask_tasks_failed_total{method="b.y"}"#) == 2)
        #expect(Self.sample(page, #"zerotask_tasks_retried_total{method="b.y"}"#) == 2)
        #expect(Self.sample(page, #"zerotask_task_run_seconds_count{method="a.x"}"#) == 4)
        #expect(Self.sample(page, #"zerotask_task_run_seconds_sum{method="a.x"}"#) == 5)
        #expect(Self.sample(page, #"zerotask_task_queue_wait_seconds_count{method="a.x"}"#) == 2)
    }

    @Test func gaugesFollowTheSnapshotAndANodeThatLeftLosesItsSeries() {
        let m = BrokerMetrics()
        var s = BrokerSnapshot(takenAt: 1, methods: ["a.x": .init(queued: 4, running: 2)],
            nodes: [.init(id: "n1", workers: 8, busy: 2, silentSeconds: 0), .init(id: "n2", workers: 2, busy: 0, silentSeconds: 1)])
        var page = String(decoding: m.render(s), as: UTF8.self)
        #expect(Self.sample(page, #"zerotask_queue_depth{method="a.x"}"#) == 4)
        #expect(Self.sample(page, #"zerotask_tasks_running{method="a.x"}"#) == 2)
        #expect(Self.sample(page, "zerotask_nodes") == 2)
        #expect(Self.sample(page, #"zerotask_workers{node="n1"}"#) == 8)
        #expect(Self.sample(page, #"zerotask_workers_busy{node="n1"}"#) == 2)

        s.methods = [:]
        s.nodes.removeFirst()
        page = String(decoding: m.render(s), as: UTF8.self)
        #expect(Self.sample(page, #"zerotask_queue_depth{method="a.x"}"#) == 0)
        #expect(Self.sample(page, #"zerotask_tasks_running{method="a.x"}"#) == 0)
        #expect(Self.sample(page, "zerotask_nodes") == 1)
        #expect(Self.sample(page, #"zerotask_workers{node="n1"}"#) == nil)
        #expect(Self.sample(page, #"zerotask_workers{node="n2"}"#) == 2)
    }
}
