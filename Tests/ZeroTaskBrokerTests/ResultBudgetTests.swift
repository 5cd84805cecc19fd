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

    static func submit(_ h: inout Harness, _ name: String, params: JSONValue = [], extra: JSONObject = [:]) -> BrokerAnswer {
        var p: JSONObject = ["client_id": "alice", "method": "work", "params": params, "task_id": .string(name)]
        for m in extra.members { p[m.key] = m.value }
        return h.call("client_new_task", .object(p), peer: "C")
    }

    static func finish(_ h: inout Harness, _ id: String, result: JSONValue = 1) {
        h.result("node_task_finished", ["node_id": "n1", "task_id": .string(id), "result": result], peer: "N")
    }

    @Test func queuedParamsAreBoundedInBytes() {
        var h = Harness { $0.maxQueuedBytes = 3000 }
        h.setUp()
        #expect(Self.submit(&h, "a", params: [Self.kib]) == .result("alice-a"))
        #expect(Self.submit(&h, "b", params: [Self.kib]) == .result("alice-b"))
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
        _ = h.result("node_task_pull", ["n1", 1], peer: "N")
        Self.finish(&h, "alice-a")
        #expect(Self.submit(&h, "c", params: [Self.kib]) == .result("alice-c"))
    }

    /// A finished task drops its params; a cancelled (or failed) one keeps them for
    /// `admin_retry`, counted in the result budget, not in `queued_bytes`.
    @Test func aFinishedTaskDropsItsParamsAFailedOneKeepsThem() {
        var h = Harness()
        h.setUp()
        _ = Self.submit(&h, "a", params: [Self.kib])
        _ = Self.submit(&h, "b", params: [Self.kib])
        #expect(h.result("stats", peer: "C")["queued_bytes"]?.int64Value ?? 0 > 2048)
        _ = h.result("node_task_pull", ["n1", 1], peer: "N")
        Self.finish(&h, "alice-a")
        h.result("client_cancel_task", ["alice", "alice-b"], peer: "C")
        #expect(h.state.tasks["alice-a"]?.params == .null)
        #expect(h.state.tasks["alice-b"]?.params == [Self.kib])
        #expect(h.result("stats", peer: "C")["queued_bytes"] == 0)
        #expect(h.result("stats", peer: "C")["result_bytes"]?.int64Value ?? 0 > 1024)
        #expect(h.result("client_task_result", ["alice", "alice-a"], peer: "C") == 1)
    }

    @Test func theOldestResultsAreDeletedPastMaxResults() {
        var h = Harness { $0.maxResults = 3 }
        h.setUp()
        for n in ["a", "b", "c", "d", "e"] { _ = Self.submit(&h, n) }
        for id in Harness.ids(h.result("node_task_pull", ["n1", 10], peer: "N")) {
            h.now += 1
            Self.finish(&h, id)
        }
        #expect(h.state.tasks.keys.sorted() == ["alice-c", "alice-d", "alice-e"])
        #expect(h.error("client_task_status", ["alice", "alice-a"], peer: "C")?.code == -32020)
        let stats = h.result("stats", peer: "C")
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
        for id in Harness.ids(h.result("node_task_pull", ["n1", 10], peer: "N")) { Self.finish(&h, id, result: Self.kib) }
        #expect(h.state.tasks.keys.sorted() == ["alice-b", "alice-c"])
        #expect(h.result("stats", peer: "C")["result_bytes"]?.int64Value ?? 0 <= 3500)
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
        for (key, value, cap) in [("max_retries", JSONValue.int(6), "max_task_retries"), ("result_ttl", 61, "max_result_ttl"),
            ("timeout", 30.5, "max_task_timeout")]
        {
            guard case .error(let e) = Self.submit(&h, "t", extra: [key: value]) else {
                Issue.record("\(key) \(value) was accepted past \(cap)")
                continue
            }
            #expect(e.code == -32602 && e.message.contains(cap) && e.message.contains(key), "\(e.message)")
        }
        #expect(h.state.taskCount == 0)
        #expect(Self.submit(&h, "t", extra: ["max_retries": 5, "result_ttl": 60, "timeout": 30]) == .result("alice-t"))
        // The batch form is capped the same way, entry by entry.
        let batch = h.result("client_new_tasks", ["alice", [["method": "work", "params": [], "max_retries": 9]]], peer: "C")
        #expect(batch.arrayValue?.first?["code"] == -32602)
    }

    @Test func anInactiveClientIsForgottenOnlyWithNothingPending() {
        var h = Harness {
            $0.clientTTL = 100
            $0.nodeTimeout = 1e9
        }
        h.setUp()
        h.result("client_connect", ["bob"], peer: "D")
        _ = Self.submit(&h, "a")
        h.now = 200
        h.state.tick(now: h.now)
        #expect(h.state.clients["bob"] == nil)
        #expect(h.state.clients["alice"] != nil, "a client with a queued task must be kept")
        _ = h.result("node_task_pull", ["n1", 1], peer: "N")
        Self.finish(&h, "alice-a")
        h.now = 400
        h.state.tick(now: h.now)
        #expect(h.state.clients["alice"] == nil)
    }

    /// The count of evicted results follows completion order, not expiry order.
    @Test func evictionFollowsCompletionOrderEvenWithMixedTTLs() {
        var h = Harness { $0.maxResults = 2 }
        h.setUp()
        _ = Self.submit(&h, "long", extra: ["result_ttl": 5000])
        _ = Self.submit(&h, "short", extra: ["result_ttl": 5])
        _ = Self.submit(&h, "mid")
        for id in Harness.ids(h.result("node_task_pull", ["n1", 10], peer: "N")) {
            h.now += 1
            Self.finish(&h, id)
        }
        #expect(h.state.tasks.keys.sorted() == ["alice-mid", "alice-short"])
    }
}
