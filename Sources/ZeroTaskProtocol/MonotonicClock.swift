#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock: for deadlines, timeouts and intervals everywhere (never the
/// wall clock, which jumps).
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
