/// How often tasks of one method may start, across all nodes: `count` per `per` seconds, read
/// from `"100/s"`, `"10/m"`, `"500/h"`, with an optional burst (how many may start at once after
/// a quiet spell; 1, the default, spaces starts evenly, as Celery's `rate_limit` does).
public struct RateLimit: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let count: Double
    /// Seconds.
    public let per: Double
    public let burst: Int

    public init(count: Double, per: Double, burst: Int = 1) {
        self.count = count
        self.per = per
        self.burst = burst
    }

    /// Reads `"N/s"`, `"N/m"`, `"N/h"` (N may have a fraction: `"0.5/s"`); `field` names the setting in errors.
    public init(_ text: String, burst: Int = 1, field: String) throws(PolicyError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let units: [Substring: Double] = ["s": 1, "m": 60, "h": 3600]
        guard parts.count == 2, let n = Double(parts[0]), n > 0, n.isFinite, n <= 1_000_000, let per = units[parts[1]] else {
            throw PolicyError(field, "must be a rate such as \"100/s\", \"10/m\" or \"500/h\", not \"\(text)\"")
        }
        guard (1...1_000_000).contains(burst) else { throw PolicyError(field, "burst must be a whole number from 1 to 1000000, not \(burst)") }
        self.init(count: n, per: per, burst: burst)
    }

    /// Starts allowed per second.
    public var perSecond: Double { count / per }

    /// `"100/s"`: the form `init(_:burst:field:)` reads, without the burst.
    public var text: String {
        let unit = per == 1 ? "s" : per == 60 ? "m" : "h"
        let n = count == count.rounded() ? String(Int64(count)) : String(count)
        return "\(n)/\(unit)"
    }

    public var description: String { text + (burst > 1 ? " (burst \(burst))" : "") }
}

/// A token bucket for a `RateLimit` on a monotonic clock: full at first, one token per start,
/// refilled at the limit's rate up to its burst.
public struct TokenBucket: Sendable, Equatable {
    public let limit: RateLimit
    private var tokens: Double
    private var updated: MonotonicInstant

    public init(_ limit: RateLimit, now: MonotonicInstant) {
        self.limit = limit
        tokens = Double(limit.burst)
        updated = now
    }

    private mutating func refill(_ now: MonotonicInstant) {
        guard now > updated else { return }
        tokens = Swift.min(Double(limit.burst), tokens + (now - updated) * limit.perSecond)
        updated = now
    }

    /// Takes a token if one is there (a task may start now).
    public mutating func take(now: MonotonicInstant) -> Bool {
        refill(now)
        // A hair under 1 counts as 1: refills are sums of floating-point products.
        guard tokens >= 1 - 1e-9 else { return false }
        tokens -= 1
        return true
    }

    /// When the next token will be there (`now` when one is).
    public mutating func nextToken(now: MonotonicInstant) -> MonotonicInstant {
        refill(now)
        return tokens >= 1 - 1e-9 ? now : now + (1 - tokens) / limit.perSecond
    }
}
