import ZeroTaskProtocol

/// Percentiles of a set of latencies (nearest rank).
public struct LatencySummary: Equatable, Sendable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var max: Double

    /// nil for no samples.
    public init?(_ samples: [Double]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ p: Double) -> Double { Percentile.nearestRank(p, inSorted: sorted) }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        max = sorted[sorted.count - 1]
    }
}
