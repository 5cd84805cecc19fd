import ZeroTaskProtocol

/// Percentiles of a set of latencies (nearest rank).
struct LatencySummary: Equatable {
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double

    /// nil for no samples.
    init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ p: Double) -> Double { Percentile.nearestRank(p, inSorted: sorted) }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        max = sorted[sorted.count - 1]
    }
}
