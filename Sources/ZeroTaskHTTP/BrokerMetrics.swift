import CoreMetrics
import Prometheus
import Synchronization
import ZeroTaskBroker

// swift-metrics' types, not swift-prometheus' of the same names: the metrics are made through the
// swift-metrics API, which swift-prometheus backs.
private typealias Counter = CoreMetrics.Counter
private typealias Gauge = CoreMetrics.Gauge
private typealias Timer = CoreMetrics.Timer

/// The broker's Prometheus metrics, made through swift-metrics on a registry of their own (so
/// several brokers in one process, as in tests, do not share counters), and rendered in the
/// Prometheus text format for `/metrics`.
///
/// Counters and histograms move as the broker's state machine reports each task (it is a
/// `TaskObserver`); the gauges are set from the latest `BrokerSnapshot` when rendered.
public final class BrokerMetrics: TaskObserver {
    /// The metric names, `zerotask_*` as DESIGN.md promises.
    enum Name {
        static let submitted = "zerotask_tasks_submitted_total"
        static let started = "zerotask_tasks_started_total"
        static let succeeded = "zerotask_tasks_succeeded_total"
        static let failed = "zerotask_tasks_failed_total"
        static let retried = "zerotask_tasks_retried_total"
        static let cancelled = "zerotask_tasks_cancelled_total"
        static let runSeconds = "zerotask_task_run_seconds"
        static let queueWaitSeconds = "zerotask_task_queue_wait_seconds"
        static let storeCommitSeconds = "zerotask_store_commit_seconds"
        static let queueDepth = "zerotask_queue_depth"
        static let running = "zerotask_tasks_running"
        static let nodes = "zerotask_nodes"
        static let workers = "zerotask_workers"
        static let workersBusy = "zerotask_workers_busy"
    }

    /// One method's counters and histograms, made on its first task.
    private struct MethodMetrics {
        let submitted, started, succeeded, failed, retried, cancelled: Counter
        let run, queueWait: Timer
    }

    /// One method's or node's gauges, kept while it has load (methods) or is connected (nodes).
    private struct Gauges {
        var byMethod: [String: (queued: Gauge, running: Gauge)] = [:]
        var byNode: [String: (workers: Gauge, busy: Gauge)] = [:]
    }

    public let registry = PrometheusCollectorRegistry()
    /// The last 15 minutes, for the dashboard's charts.
    public let recent = RecentActivity()
    private let factory: PrometheusMetricsFactory
    private let methods = Mutex<[String: MethodMetrics]>([:])
    private let gauges = Mutex(Gauges())
    private let commit: Timer
    private let nodeCount: Gauge

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // From a millisecond plugin call to a five-minute job.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
            .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(120), .seconds(600),
        ]
        self.factory = factory
        commit = Timer(label: Name.storeCommitSeconds, dimensions: [], factory: factory)
        nodeCount = Gauge(label: Name.nodes, dimensions: [], factory: factory)
    }

    private func metrics(_ method: String) -> MethodMetrics {
        methods.withLock { all in
            if let m = all[method] { return m }
            let d = [("method", method)]
            func counter(_ name: String) -> Counter { Counter(label: name, dimensions: d, factory: factory) }
            let m = MethodMetrics(
                submitted: counter(Name.submitted), started: counter(Name.started), succeeded: counter(Name.succeeded),
                failed: counter(Name.failed), retried: counter(Name.retried), cancelled: counter(Name.cancelled),
                run: Timer(label: Name.runSeconds, dimensions: d, factory: factory),
                queueWait: Timer(label: Name.queueWaitSeconds, dimensions: d, factory: factory))
            all[method] = m
            return m
        }
    }

    // One task at a time (an observer not batched by a broker loop) is a turn of one
    // transition: `record` is the one place that counts.
    public func taskSubmitted(method: String) { record(.one(method) { $0.submitted = 1 }) }

    public func taskStarted(method: String, queueWait: Double?) {
        record(.one(method) { c in
            c.started = 1
            if let queueWait { c.queueWaits = [queueWait] }
        })
    }

    public func taskRetried(method: String) { record(.one(method) { $0.retried = 1 }) }

    public func taskCompleted(method: String, outcome: TaskOutcome, runSeconds: Double?) {
        record(.one(method) { c in
            switch outcome {
            case .succeeded: c.succeeded = 1
            case .failed: c.failed = 1
            case .cancelled: c.cancelled = 1
            }
            if let runSeconds { c.runs = [runSeconds] }
        })
    }

    public func storeCommitted(seconds: Double) { commit.recordSeconds(seconds) }

    /// A loop turn's transitions: one lookup and one add per counter per method, however many
    /// tasks moved (the broker calls this, once per turn, rather than the methods above).
    public func record(_ observations: TaskObservations) {
        for (method, c) in observations.byMethod {
            let m = metrics(method)
            for (counter, n) in [(m.submitted, c.submitted), (m.started, c.started), (m.retried, c.retried),
                                 (m.succeeded, c.succeeded), (m.failed, c.failed), (m.cancelled, c.cancelled)] where n > 0 {
                counter.increment(by: n)
            }
            for w in c.queueWaits { m.queueWait.recordSeconds(w) }
            for r in c.runs { m.run.recordSeconds(r) }
            recent.record(method: method, succeeded: c.succeeded, failed: c.failed, runs: c.runs, queueWaits: c.queueWaits)
        }
    }

    /// Every metric in the Prometheus text format, the gauges set from `snapshot` first.
    public func render(_ snapshot: BrokerSnapshot?) -> [UInt8] {
        if let snapshot { update(snapshot) }
        return registry.emitToBuffer()
    }

    /// Sets the gauges: a method without load reads 0 (its series stays), a node that left
    /// loses its series.
    private func update(_ snapshot: BrokerSnapshot) {
        gauges.withLock { g in
            for (name, pair) in g.byMethod where snapshot.methods[name] == nil {
                pair.queued.record(0)
                pair.running.record(0)
            }
            for (name, load) in snapshot.methods {
                let pair = g.byMethod[name] ?? {
                    let d = [("method", name)]
                    let made = (Gauge(label: Name.queueDepth, dimensions: d, factory: factory),
                                Gauge(label: Name.running, dimensions: d, factory: factory))
                    g.byMethod[name] = made
                    return made
                }()
                pair.queued.record(load.queued)
                pair.running.record(load.running)
            }
            let present = Set(snapshot.nodes.map(\.id))
            for (id, pair) in g.byNode where !present.contains(id) {
                pair.workers.destroy()
                pair.busy.destroy()
                g.byNode[id] = nil
            }
            for node in snapshot.nodes {
                let pair = g.byNode[node.id] ?? {
                    let d = [("node", node.id)]
                    let made = (Gauge(label: Name.workers, dimensions: d, factory: factory),
                                Gauge(label: Name.workersBusy, dimensions: d, factory: factory))
                    g.byNode[node.id] = made
                    return made
                }()
                pair.workers.record(node.workers)
                pair.busy.record(node.busy)
            }
            nodeCount.record(snapshot.nodes.count)
        }
    }
}

extension Timer {
    /// Records a duration given in seconds (negative ones, from a wall clock set back, as 0).
    fileprivate func recordSeconds(_ seconds: Double) { recordNanoseconds(Int64(max(0, seconds) * 1e9)) }
}
