/// How the broker treats the tasks of one method: retries after application errors, how many
/// may run at once across all nodes, and how often they may start.
///
/// Read from the same three fields wherever it is declared — a plugin manifest (the plugin's top
/// level for all its methods, a method's own entry over it), a node's advertisement of a method,
/// the broker's configuration — so the rules and their error messages are written once:
///
/// ```json
/// {"retry": {"max_attempts": 5, "backoff": 2}, "concurrency": 4, "rate": "100/s"}
/// {"rate": {"limit": "10/s", "burst": 20}}
/// ```
public struct MethodPolicy: Sendable, Equatable, Hashable {
    /// Retries after the method's own errors; nil: not declared here (one attempt unless another
    /// level declares one).
    public var retry: RetryPolicy?
    /// The most tasks of the method running at once across all nodes; nil: no limit declared.
    public var concurrency: Int?
    /// How often tasks of the method may start across all nodes; nil: no limit declared.
    public var rate: RateLimit?

    public static let none = MethodPolicy()

    /// The fields a policy takes in the object that holds it.
    public static let fields = ["retry", "concurrency", "rate"]

    /// The most a concurrency limit may say (more is no limit in practice, and likely a typo).
    public static let maxConcurrency = 1_000_000

    public init(retry: RetryPolicy? = nil, concurrency: Int? = nil, rate: RateLimit? = nil) {
        self.retry = retry
        self.concurrency = concurrency
        self.rate = rate
    }

    /// Whether nothing is declared.
    public var isEmpty: Bool { retry == nil && concurrency == nil && rate == nil }

    /// Reads the policy fields of `object`, ignoring its other keys (the holder checks those);
    /// `prefix` names the holder in errors (`"methods[2]"` gives `methods[2].rate`; nil gives `rate`).
    public init(reading object: JSONObject, prefix: String?) throws(PolicyError) {
        func field(_ key: String) -> String { prefix.map { "\($0).\(key)" } ?? key }
        if let r = object["retry"] {
            retry = try RetryPolicy(json: r, field: field("retry"))
        }
        if let c = object["concurrency"] {
            guard let n = c.int64Value, n >= 1, n <= Int64(Self.maxConcurrency) else {
                throw PolicyError(field("concurrency"), "must be a whole number from 1 to \(Self.maxConcurrency), not \(c)")
            }
            concurrency = Int(n)
        }
        if let r = object["rate"] {
            rate = try Self.readRate(r, field: field("rate"))
        }
    }

    private static func readRate(_ value: JSONValue, field: String) throws(PolicyError) -> RateLimit {
        switch value {
        case .string(let text):
            return try RateLimit(text, field: field)
        case .object(let o):
            for key in o.keys where key != "limit" && key != "burst" {
                throw PolicyError("\(field).\(key)", "is not a rate setting (known: limit, burst)")
            }
            guard case .string(let text)? = o["limit"] else {
                throw PolicyError("\(field).limit", o["limit"] == nil ? "is required (\"100/s\", \"10/m\", \"500/h\")" : "must be a string such as \"100/s\"")
            }
            var burst = 1
            if let b = o["burst"] {
                guard let n = b.int64Value, n >= 1, n <= 1_000_000 else {
                    throw PolicyError("\(field).burst", "must be a whole number from 1 to 1000000, not \(b)")
                }
                burst = Int(n)
            }
            return try RateLimit(text, burst: burst, field: "\(field).limit")
        default:
            throw PolicyError(field, "must be a rate such as \"100/s\" or {\"limit\": \"100/s\", \"burst\": 10}, not \(value.typeName)")
        }
    }

    /// This policy with every field `other` declares taking its place.
    public func overridden(by other: MethodPolicy) -> MethodPolicy {
        MethodPolicy(retry: other.retry ?? retry, concurrency: other.concurrency ?? concurrency, rate: other.rate ?? rate)
    }

    /// Adds the declared fields to `object`, in the form `init(reading:prefix:)` reads.
    public func write(into object: inout JSONObject) {
        if let retry { object["retry"] = retry.json }
        if let concurrency { object["concurrency"] = .int(Int64(concurrency)) }
        if let rate { object["rate"] = rate.json }
    }
}

extension RateLimit {
    /// `"100/s"`, or `{"limit": "100/s", "burst": 10}` when the burst is not 1.
    public var json: JSONValue {
        burst == 1 ? .string(text) : .object(["limit": .string(text), "burst": .int(Int64(burst))])
    }
}
