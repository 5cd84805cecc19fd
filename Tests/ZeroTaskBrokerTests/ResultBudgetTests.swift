import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Memory bounded in bytes, not only counts: params of pending tasks within `max_queued_bytes`,
/// params dropped at completion, results within `max_results`/`max_result_bytes` (oldest
/// deleted first), caps on what a task may ask for, and clients expiring only with nothing
/// pending. Injected clock, no sockets.
@Suite struct ResultBudgetTests {
    typealias Harness = BrokerStateTests.Harness

    static let kib = JSONValue.string(String(repeating: "x", count: 1024))

    /// Alice's task `work` named `name`, with what it may ask for.
    static func task(_ name: String, params: JSONValue = [], timeout: Double? = nil, maxRetries: Int? = nil,
        resultTTL: Double? = nil) -> Submission
    {
        Submission(method: "work", params: params, taskID: name, timeout: timeout, maxRetries: maxRetries, resultTTL: resultTTL)
    }

    static func submit(_ h: inout Harness, _ name: String, params: JSONValue = [], resultTTL: Double? = nil) -> BrokerAnswer {
        h.run(.submit(clientID: "alice", task(name, params: params, resultTTL: resultTTL)), peer: "C")
    }

    static func finish(_ h: inout Harness, _ id: String, result: JSONValue = 1) {
        h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(result))), peer: "N")
    }

    static func pull(_ h: inout Harness, _ max: Int) -> [String] {
        Harness.ids(h.value(.pull(nodeID: "n1", max: max, wait: nil, done: []), peer: "N"))
    }

    @Test func queuedParamsAreBoundedInBytes() {
        var h = Harness { $0.maxQueuedBytes = 3000 }
        h.setUp()
        #expect(Self.submit(&h, "a", params: [Self.kib]) == .reply(.id("alice-a")))
        #expect(Self.submit(&h, "b", params: [Self.kib]) == .reply(.id("alice-b")))
        guard case .error(let e) = Self.submit(&h, "c", params: [Self.kib]) else {
            Issue.record("a third KiB of params was queued past max_queued_bytes")
            return
        }
        #expect(e.code == -32070 && e.message.contains("max_queued_bytes"), "\(e.message)")
        #expect(h.state.tasks["alice-c"] == nil, "a refused task must leave nothing behind")
        // Params larger than the whole budget can never fit: a different error, not "retry later".
        guard case .error(let tooBig) = Self.submit(&h, "huge", params: [.string(String(repeating: "y", count: 4000))]) else {
            Issue.record("params larger than max_queued_bytes were accepted")
            return
        }
        #expect(tooBig.code == -32602 && tooBig.message.contains("max_queued_bytes"))
        // A completion gives its bytes back.
        _ = Self.pull(&h, 1)
        Self.finish(&h, "alice-a")
        #expect(Self.submit(&h, "c", params: [Self.kib]) == .reply(.id("alice-c")))
    }

    /// A finished task drops its params; a cancelled (or failed) one keeps them for
    /// `admin_retry`, counted in the result budget, not in `queued_bytes`.
    @Test func aFinishedTaskDropsItsParamsAFailedOneKeepsThem() {
        var h = Harness()
        h.setUp()
        _ = Self.submit(&h, "a", params: [Self.kib])
        _ = Self.submit(&h, "b", params: [Self.kib])
        #expect(h.value(.stats, peer: "C")["queued_bytes"]?.int64Value ?? 0 > 2048)
        _ = Self.pull(&h, 1)
        Self.finish(&h, "alice-a")
        h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-b"), peer: "C")
        #expect(h.state.tasks["alice-a"]?.params == .null)
        #expect(h.state.tasks["alice-b"]?.params == [Self.kib])
        #expect(h.value(.stats, peer: "C")["queued_bytes"] == 0)
        #expect(h.value(.stats, peer: "C")["result_bytes"]?.int64Value ?? 0 > 1024)
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C") == 1)
    }

    @Test func theOldestResultsAreDeletedPastMaxResults() {
        var h = Harness { $0.maxResults = 3 }
        h.setUp()
        for n in ["a", "b", "c", "d", "e"] { _ = Self.submit(&h, n) }
        for id in Self.pull(&h, 10) {
            h.now += 1
            Self.finish(&h, id)
        }
        #expect(h.state.tasks.keys.sorted() == ["alice-c", "alice-d", "alice-e"])
        #expect(h.refusal(.clientTask(.status, clientID: "alice", taskID: "alice-a"), peer: "C")?.code == -32020)
        let stats = h.value(.stats, peer: "C")
        #expect(stats["results"] == 3 && stats["results_evicted_total"] == 2)
        // Told once for both, at the next sweep, not once per eviction.
        #expect(!h.state.takeEvents().contains { if case .resultsEvicted = $0 { true } else { false } })
        h.state.tick(now: h.now)
        #expect(h.state.takeEvents() == [.resultsEvicted(count: 2, kept: 3, bytes: h.state.results.bytes)])
        h.now += 1
        h.state.tick(now: h.now)
        #expect(h.state.takeEvents().isEmpty)
    }

    @Test func theOldestResultsAreDeletedPastMaxResultBytes() {
        // A KiB result counts about 1.5 KiB with its record: two fit in 3500 bytes, not three.
        var h = Harness { $0.maxResultBytes = 3500 }
        h.setUp()
        for n in ["a", "b", "c"] { _ = Self.submit(&h, n) }
        for id in Self.pull(&h, 10) { Self.finish(&h, id, result: Self.kib) }
        #expect(h.state.tasks.keys.sorted() == ["alice-b", "alice-c"])
        #expect(h.value(.stats, peer: "C")["result_bytes"]?.int64Value ?? 0 <= 3500)
        // Expiry by result_ttl and eviction agree on the count.
        h.now += 100_000
        h.state.tick(now: h.now)
        #expect(h.state.tasks.isEmpty && h.state.results.count == 0 && h.state.results.bytes == 0)
    }

    @Test func aTaskMayNotAskForMoreThanTheBrokerAllows() {
        var h = Harness {
            $0.maxTaskRetries = 5
            $0.maxResultTTL = 60
            $0.maxTaskTimeout = 30
        }
        h.setUp()
        for (key, task, cap) in [("max_retries", Self.task("t", maxRetries: 6), "max_task_retries"),
            ("result_ttl", Self.task("t", resultTTL: 61), "max_result_ttl"), ("timeout", Self.task("t", timeout: 30.5), "max_task_timeout")]
        {
            guard case .error(let e) = h.run(.submit(clientID: "alice", task), peer: "C") else {
                Issue.record("\(key) of \(task) was accepted past \(cap)")
                continue
            }
            #expect(e.code == -32602 && e.message.contains(cap) && e.message.contains(key), "\(e.message)")
        }
        #expect(h.state.taskCount == 0)
        #expect(h.run(.submit(clientID: "alice", Self.task("t", timeout: 30, maxRetries: 5, resultTTL: 60)), peer: "C") == .reply(.id("alice-t")))
        // The batch form is capped the same way, entry by entry.
        let batch = h.value(.submitMany(clientID: "alice", [.success(Submission(method: "work", params: [], maxRetries: 9))]), peer: "C")
        #expect(batch.arrayValue?.first?["code"] == -32602)
    }

    @Test func anInactiveClientIsForgottenOnlyWithNothingPending() {
        var h = Harness {
            $0.clientTTL = 100
            $0.nodeTimeout = 1e9
        }
        h.setUp()
        h.value(.clientConnect(clientID: "bob"), peer: "D")
        _ = Self.submit(&h, "a")
        h.now = 200
        h.state.tick(now: h.now)
        #expect(h.state.clients["bob"] == nil)
        #expect(h.state.clients["alice"] != nil, "a client with a queued task must be kept")
        _ = Self.pull(&h, 1)
        Self.finish(&h, "alice-a")
        h.now = 400
        h.state.tick(now: h.now)
        #expect(h.state.clients["alice"] == nil)
    }

    /// The count of evicted results follows completion order, not expiry order.
    @Test func evictionFollowsCompletionOrderEvenWithMixedTTLs() {
        var h = Harness { $0.maxResults = 2 }
        h.setUp()
        _ = Self.submit(&h, "long", resultTTL: 5000)
        _ = Self.submit(&h, "short", resultTTL: 5)
        _ = Self.submit(&h, "mid")
        for id in Self.pull(&h, 10) {
            h.now += 1
            Self.finish(&h, id)
        }
        #expect(h.state.tasks.keys.sorted() == ["alice-mid", "alice-short"])
    }
}
