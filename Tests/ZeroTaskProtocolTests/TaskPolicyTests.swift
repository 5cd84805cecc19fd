import Testing
import ZeroTaskProtocol

@Suite struct RetryPolicyTests {
    func policy(_ json: String) throws -> RetryPolicy {
        try RetryPolicy(json: try JSONValue.parse(json), field: "retry")
    }

    func error(_ json: String) -> String {
        do { return "parsed: \(try policy(json))" } catch { return "\(error)" }
    }

    @Test func readsEverySettingAndDefaultsTheRest() throws {
        let p = try policy(#"{"max_attempts": 5, "backoff": 0.5, "factor": 3, "max_backoff": 10, "jitter": 0, "codes": [17, -32060]}"#)
        #expect(p == RetryPolicy(maxAttempts: 5, backoff: 0.5, factor: 3, maxBackoff: 10, jitter: 0, codes: [17, -32060]))
        #expect(try policy(#"{"max_attempts": 3}"#) == RetryPolicy(maxAttempts: 3))
        #expect(try RetryPolicy(json: p.json, field: "retry") == p)
    }

    @Test func errorsNameTheField() {
        #expect(error(#"{"max_attempts": 0}"#) == "retry.max_attempts must be a whole number from 1 to 100, not 0")
        #expect(error(#"{"backoff": 1}"#) == "retry.max_attempts is required")
        #expect(error(#"{"max_attempts": 2, "backof": 1}"#).hasPrefix("retry.backof is not a retry setting (known: max_attempts, backoff"))
        #expect(error(#"{"max_attempts": 2, "jitter": 2}"#) == "retry.jitter must be a number from 0 to 1, not 2")
        #expect(error(#"{"max_attempts": 2, "codes": ["x"]}"#) == #"retry.codes[0] must be a whole number (an error code), not "x""#)
        #expect(error(#"{"max_attempts": 2, "codes": [-32062]}"#) == "retry.codes[0] -32062 (cancelled) is never retried")
        #expect(error("[]") == "retry must be an object with max_attempts, backoff, factor, max_backoff, jitter, codes, not array")
    }

    @Test func applicationErrorsRetryUntilTheLastAttempt() {
        let p = RetryPolicy(maxAttempts: 3)
        #expect(p.retries(code: 17, after: 1))
        #expect(p.retries(code: -32000, after: 2))
        #expect(!p.retries(code: 17, after: 3))
        // ZeroTask's own errors are not the plugin's: timeouts, crashes, limits, cancellation.
        for code: Int64 in [-32060, -32061, -32062, -32063, -32064, -32602] {
            #expect(!p.retries(code: code, after: 1), "\(code)")
        }
        let listed = RetryPolicy(maxAttempts: 3, codes: [-32060])
        #expect(listed.retries(code: -32060, after: 1))
        #expect(!listed.retries(code: 17, after: 1))
    }

    @Test func backoffGrowsToItsCapAndJitterOnlyShortens() {
        let p = RetryPolicy(maxAttempts: 100, backoff: 1, factor: 2, maxBackoff: 60, jitter: 0.5)
        #expect(p.delay(after: 1, random: 0) == 1)
        #expect(p.delay(after: 2, random: 0) == 2)
        #expect(p.delay(after: 4, random: 0) == 8)
        #expect(p.delay(after: 7, random: 0) == 60)
        #expect(p.delay(after: 99, random: 0) == 60)
        #expect(p.delay(after: 4, random: 0.5) == 6)
        #expect(p.delay(after: 99, random: 0.999) > 30)
        #expect(RetryPolicy(maxAttempts: 2, factor: 100, maxBackoff: 86400).delay(after: 1_000_000, random: 0) == 86400)
    }
}

@Suite struct RateLimitTests {
    @Test func readsRates() throws {
        #expect(try RateLimit("100/s", field: "rate").perSecond == 100)
        #expect(try RateLimit("30/m", field: "rate").perSecond == 0.5)
        #expect(try RateLimit("0.5/s", burst: 4, field: "rate").description == "0.5/s (burst 4)")
        #expect(try RateLimit("3600/h", field: "rate").description == "3600/h")
        for bad in ["100", "100/d", "/s", "0/s", "-1/s", "x/s", "1/s/s"] {
            #expect(throws: PolicyError("rate", "must be a rate such as \"100/s\", \"10/m\" or \"500/h\", not \"\(bad)\"")) {
                try RateLimit(bad, field: "rate")
            }
        }
        #expect(throws: PolicyError.self) { try RateLimit("1/s", burst: 0, field: "rate") }
    }

    @Test func aBucketSpacesStartsAtTheRate() throws {
        var b = TokenBucket(try RateLimit("10/s", field: "rate"), now: 100)
        let starts = [b.take(now: 100), b.take(now: 100)]
        #expect(starts == [true, false])
        let next = b.nextToken(now: 100)
        #expect(abs(next - 100.1) < 1e-9)
        // Not before its time; then again; and a quiet spell fills it only up to its burst (1).
        let later = [b.take(now: 100.05), b.take(now: 100.1), b.take(now: 200), b.take(now: 200)]
        #expect(later == [false, true, true, false])
    }

    @Test func aBurstLetsThatManyStartAtOnce() throws {
        var b = TokenBucket(try RateLimit("1/s", burst: 3, field: "rate"), now: 0)
        var taken = 0
        for _ in 0..<5 where b.take(now: 0) { taken += 1 }
        #expect(taken == 3)
        let next = b.nextToken(now: 0)
        #expect(next == 1)
        let later = [b.take(now: 1), b.take(now: 1.5)]
        #expect(later == [true, false])
    }
}
