/// Percentiles by nearest rank: the smallest sample that at least a fraction `p` of all samples
/// are at or below. The one rule behind the node's reported timings (`node_status`),
/// `zerotask bench` and the benchmark programs.
public enum Percentile {
    /// The `p` (0...1) percentile of `sorted`, which is sorted ascending and not empty.
    public static func nearestRank(_ p: Double, inSorted sorted: [Double]) -> Double {
        let i = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[max(0, min(sorted.count - 1, i))]
    }

    /// The median (nearest rank) of `samples`, which is not empty.
    public static func median(_ samples: [Double]) -> Double { nearestRank(0.5, inSorted: samples.sorted()) }
}
