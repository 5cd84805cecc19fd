/// How a task is tried again after its method failed with an application error: up to
/// `maxAttempts` runs in all, each retry after an exponential back-off with jitter.
///
/// Declared per method in a plugin's manifest (`"retry": {…}`), per task on submission (the
/// same object, which wins), or neither (one attempt: an application error is final). Crashes
/// and lost nodes are not application errors: the task's `max_retries` covers them.
///
/// ```json
/// {"max_attempts": 5, "backoff": 1, "factor": 2, "max_backoff": 300, "jitter": 0.2, "codes": [-32000, 17]}
/// ```
public struct RetryPolicy: Sendable, Equatable, Hashable {
    /// Runs in all, the first one included (1: no retry).
    public var maxAttempts: Int
    /// Seconds before the first retry.
    public var backoff: Double
    /// Each further retry waits this many times longer…
    public var factor: Double
    /// …but never longer than this.
    public var maxBackoff: Double
    /// Each wait is shortened by up to this fraction at random (0: exact; 0.2: 80–100 % of it),
    /// so tasks that failed together do not all come back together.
    public var jitter: Double
    /// The error codes that are retried; nil: every application error, that is every code but
    /// ZeroTask's own (-32700…-32000 except -32000 itself, which a JSON plugin's plain failure
    /// carries). A timeout (-32060) or a sandbox limit (-32064) retries only when listed.
    public var codes: Set<Int64>?

    public static let none = RetryPolicy(maxAttempts: 1)

    public init(maxAttempts: Int, backoff: Double = 1, factor: Double = 2, maxBackoff: Double = 300, jitter: Double = 0.2, codes: Set<Int64>? = nil) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.factor = factor
        self.maxBackoff = maxBackoff
        self.jitter = jitter
        self.codes = codes
    }

    /// The fields a retry object may hold.
    public static let fields = ["max_attempts", "backoff", "factor", "max_backoff", "jitter", "codes"]

    /// Reads a retry object; `field` names where it is (`"methods[2].retry"`, `"retry"`) in errors.
    /// - Parameter maxAttemptsCap: the most attempts the reader allows.
    public init(json: JSONValue, field: String, maxAttemptsCap: Int = 100) throws(PolicyError) {
        guard case .object(let o) = json else { throw PolicyError(field, "must be an object with \(Self.fields.joined(separator: ", ")), not \(json.typeName)") }
        for key in o.keys where !Self.fields.contains(key) {
            throw PolicyError("\(field).\(key)", "is not a retry setting (known: \(Self.fields.joined(separator: ", ")))")
        }
        func number(_ key: String, _ range: ClosedRange<Double>, default value: Double) throws(PolicyError) -> Double {
            guard let v = o[key] else { return value }
            guard let d = v.doubleValue, range.contains(d) else {
                func plain(_ d: Double) -> String { d == d.rounded() ? String(Int64(d)) : String(d) }
                throw PolicyError("\(field).\(key)", "must be a number from \(plain(range.lowerBound)) to \(plain(range.upperBound)), not \(v)")
            }
            return d
        }
        guard let attempts = o["max_attempts"] else { throw PolicyError("\(field).max_attempts", "is required") }
        guard let n = attempts.int64Value, n >= 1, n <= Int64(maxAttemptsCap) else {
            throw PolicyError("\(field).max_attempts", "must be a whole number from 1 to \(maxAttemptsCap), not \(attempts)")
        }
        maxAttempts = Int(n)
        backoff = try number("backoff", 0...86400, default: 1)
        factor = try number("factor", 1...100, default: 2)
        maxBackoff = try number("max_backoff", 0...86400, default: 300)
        jitter = try number("jitter", 0...1, default: 0.2)
        if let list = o["codes"] {
            guard case .array(let items) = list else { throw PolicyError("\(field).codes", "must be an array of error codes, not \(list.typeName)") }
            var set = Set<Int64>()
            for (i, item) in items.enumerated() {
                guard let code = item.int64Value else { throw PolicyError("\(field).codes[\(i)]", "must be a whole number (an error code), not \(item)") }
                guard code != ErrorCode.taskCancelled.rawValue else {
                    throw PolicyError("\(field).codes[\(i)]", "-32062 (cancelled) is never retried")
                }
                set.insert(code)
            }
            codes = set
        } else {
            codes = nil
        }
    }

    /// The JSON form `init(json:field:)` reads.
    public var json: JSONValue {
        var o: JSONObject = ["max_attempts": .int(Int64(maxAttempts)), "backoff": .double(backoff), "factor": .double(factor),
            "max_backoff": .double(maxBackoff), "jitter": .double(jitter)]
        if let codes { o["codes"] = .array(codes.sorted().map { .int($0) }) }
        return .object(o)
    }

    /// Whether a task that failed with `code` after `attempt` runs (counted from 1) runs again.
    public func retries(code: Int64, after attempt: Int) -> Bool {
        guard attempt < maxAttempts else { return false }
        if let codes { return codes.contains(code) }
        return Self.isApplicationError(code)
    }

    /// Codes a plugin raises itself (`ctx->fail`, or -32000 for a plain failure), as opposed to
    /// the ones ZeroTask gives (protocol errors, timeouts, crashes, limits, cancellation).
    public static func isApplicationError(_ code: Int64) -> Bool {
        code == -32000 || !(-32768 ... -32000).contains(code)
    }

    /// Seconds to wait before the run after `attempt` failed runs (1: the first retry), for
    /// `random` in 0..<1.
    public func delay(after attempt: Int, random: Double) -> Double {
        let exponent = Double(Swift.max(0, attempt - 1))
        var wait = backoff
        // Grown step by step so that a large exponent stops at the cap instead of overflowing.
        var step = 0.0
        while step < exponent && wait < maxBackoff {
            wait *= factor
            step += 1
        }
        wait = Swift.min(wait, maxBackoff)
        return wait * (1 - jitter * random)
    }
}

/// A setting that does not read: `field` names it (`retry.max_attempts`, `rate`).
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String
    public let message: String
    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field) \(message)" }
}
