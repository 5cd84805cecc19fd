import ZeroTaskProtocol

/// What a node counts and times about its workers, reported to the broker with `node_status`
/// (and so shown by `zerotask nodes`).
struct NodeStats {
    /// Recent samples, a fixed number kept: percentiles follow current behaviour.
    struct Samples {
        private var values: [Double] = []
        private var next = 0
        let capacity: Int

        init(capacity: Int = 1024) { self.capacity = capacity }

        mutating func add(_ v: Double) {
            if values.count < capacity { values.append(v) } else { values[next] = v }
            next = (next + 1) % capacity
        }

        func percentile(_ p: Double) -> Double? {
            guard !values.isEmpty else { return nil }
            return Percentile.nearestRank(p, inSorted: values.sorted())
        }
    }

    var finished = 0
    var failed = 0
    var timeouts = 0
    var crashes = 0
    var workerStarts = 0
    /// Dispatch to result, as the node sees it: the worker hop plus the plugin call.
    var taskSeconds = Samples()
    /// Worker start to ready (plugins loaded).
    var workerStartSeconds = Samples(capacity: 128)

    func json(workers: Int, busy: Int) -> JSONObject {
        var o: JSONObject = [
            "workers": .int(Int64(workers)), "running": .int(Int64(busy)),
            "tasks_finished": .int(Int64(finished)), "tasks_failed": .int(Int64(failed)),
            "timeouts": .int(Int64(timeouts)), "crashes": .int(Int64(crashes)),
            "worker_starts": .int(Int64(workerStarts)),
        ]
        func us(_ s: Double?) -> JSONValue { s.map { .double(($0 * 1e7).rounded() / 10) } ?? .null }
        func ms(_ s: Double?) -> JSONValue { s.map { .double(($0 * 1e4).rounded() / 10) } ?? .null }
        o["task_p50_us"] = us(taskSeconds.percentile(0.5))
        o["task_p99_us"] = us(taskSeconds.percentile(0.99))
        o["worker_start_p50_ms"] = ms(workerStartSeconds.percentile(0.5))
        o["worker_start_max_ms"] = ms(workerStartSeconds.percentile(1))
        return o
    }
}
