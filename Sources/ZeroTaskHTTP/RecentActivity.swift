import Synchronization
import ZeroTaskProtocol

/// What the dashboard's charts show: tasks succeeded and failed in each of the last 900 seconds,
/// and the latest run times and queue waits for their percentiles. Fed by `BrokerMetrics` on
/// the broker's thread (one lock and a few stores per task), read by the HTTP side.
public final class RecentActivity: Sendable {
    /// Seconds of history: the dashboard's 15 minutes.
    public static let window = 900
    /// Samples kept per timing: the percentiles are of the latest ones.
    static let samples = 1024

    private struct Book {
        /// Second (monotonic, truncated) each slot counts, and its counts.
        var second = [Int](repeating: -1, count: RecentActivity.window)
        var succeeded = [Int](repeating: 0, count: RecentActivity.window)
        var failed = [Int](repeating: 0, count: RecentActivity.window)
        var run = Ring(), wait = Ring()
        /// Tasks completed per method since the broker started: the page's rates are the
        /// differences between two polls.
        var doneByMethod: [String: Int] = [:]

        mutating func count(at now: Double, succeeded ok: Int, failed bad: Int) {
            let s = Int(now), i = s % RecentActivity.window
            if second[i] != s {
                second[i] = s
                succeeded[i] = 0
                failed[i] = 0
            }
            succeeded[i] += ok
            failed[i] += bad
        }
    }

    /// The latest `samples` values, overwritten oldest first.
    private struct Ring {
        var values: [Double] = []
        var next = 0
        mutating func add(_ v: Double) {
            if values.count < RecentActivity.samples { values.append(v) } else { values[next] = v }
            next = (next + 1) % RecentActivity.samples
        }
    }

    private let book = Mutex(Book())
    private let clock: @Sendable () -> MonotonicInstant

    public init(clock: @escaping @Sendable () -> MonotonicInstant = MonotonicInstant.now) { self.clock = clock }

    /// One method's share of a loop turn (`BrokerMetrics.record`): one lock for all of it.
    func record(method: String, succeeded: Int, failed: Int, runs: [Double], queueWaits: [Double]) {
        guard succeeded + failed > 0 || !runs.isEmpty || !queueWaits.isEmpty else { return }
        let now = clock().seconds
        book.withLock {
            if succeeded + failed > 0 {
                $0.count(at: now, succeeded: succeeded, failed: failed)
                $0.doneByMethod[method, default: 0] += succeeded + failed
            }
            for r in runs { $0.run.add(max(0, r)) }
            for w in queueWaits { $0.wait.add(max(0, w)) }
        }
    }

    /// `{seconds, succeeded: [900], failed: [900], run: {p50, p90, p99, count}, queue_wait: {…},
    /// done_by_method: {method: count}}`,
    /// oldest second first, the current one last.
    public func json() -> ZeroTaskProtocol.JSONValue {
        let now = Int(clock().seconds)
        let (ok, bad, run, wait, done) = book.withLock { b -> ([JSONValue], [JSONValue], [Double], [Double], [String: Int]) in
            var ok: [JSONValue] = [], bad: [JSONValue] = []
            ok.reserveCapacity(Self.window)
            bad.reserveCapacity(Self.window)
            for s in (now - Self.window + 1)...now {
                let i = ((s % Self.window) + Self.window) % Self.window
                let live = b.second[i] == s
                ok.append(.int(Int64(live ? b.succeeded[i] : 0)))
                bad.append(.int(Int64(live ? b.failed[i] : 0)))
            }
            return (ok, bad, b.run.values, b.wait.values, b.doneByMethod)
        }
        var byMethod = JSONObject()
        for (m, n) in done.sorted(by: { $0.key < $1.key }) { byMethod[m] = .int(Int64(n)) }
        return ["seconds": .int(Int64(Self.window)), "succeeded": .array(ok), "failed": .array(bad),
            "run": Self.percentiles(run), "queue_wait": Self.percentiles(wait), "done_by_method": .object(byMethod)]
    }

    static func percentiles(_ samples: [Double]) -> JSONValue {
        guard !samples.isEmpty else { return ["count": 0] }
        let sorted = samples.sorted()
        return ["count": .int(Int64(sorted.count)), "p50": .double(Percentile.nearestRank(0.5, inSorted: sorted)),
            "p90": .double(Percentile.nearestRank(0.9, inSorted: sorted)), "p99": .double(Percentile.nearestRank(0.99, inSorted: sorted))]
    }
}
