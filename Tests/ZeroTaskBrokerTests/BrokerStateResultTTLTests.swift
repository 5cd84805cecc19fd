import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// A task's own `result_ttl` (seconds its result is kept after completion) overrides the
/// broker's; expiry follows each task's own deadline. Injected clock, no sockets.
@Suite struct BrokerStateResultTTLTests {
    typealias Harness = BrokerStateTests.Harness
    typealias Kept = BrokerStateJournalTests.Kept

    /// Submits `alice-NAME` with an optional `result_ttl`.
    static func submit(_ h: inout Harness, _ name: String, ttl: Double? = nil) {
        h.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: name, resultTTL: ttl)), peer: "C")
    }

    /// Pulls every queued task on n1 and finishes each with its own name.
    static func finishAll(_ h: inout Harness) {
        for id in Harness.ids(h.value(.pull(nodeID: "n1", max: 100, wait: nil, done: []), peer: "N")) {
            h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(.string(id)))), peer: "N")
        }
    }

    static func kept(_ h: Harness) -> [String] { h.state.tasks.keys.sorted() }

    @Test func eachTaskKeepsItsResultForItsOwnTTLOrTheBrokers() {
        var h = Harness { $0.resultTTL = 1000 }
        h.setUp()
        Self.submit(&h, "short", ttl: 10)
        Self.submit(&h, "default")
        Self.submit(&h, "long", ttl: 5000)
        h.now = 100
        Self.finishAll(&h)
        #expect(h.value(.clientTask(.info, clientID: "alice", taskID: "alice-short"), peer: "C")["result_ttl"]?.doubleValue == 10)
        #expect(h.value(.clientTask(.info, clientID: "alice", taskID: "alice-default"), peer: "C")["result_ttl"] == nil)

        h.now = 109
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == ["alice-default", "alice-long", "alice-short"])
        #expect(h.value(.clientTask(.result, clientID: "alice", taskID: "alice-short"), peer: "C") == "alice-short")
        h.now = 111
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == ["alice-default", "alice-long"])
        #expect(h.refusal(.clientTask(.result, clientID: "alice", taskID: "alice-short"), peer: "C")?.code == ErrorCode.invalidTaskID.rawValue)
        // Longer than the broker's own: the task's TTL wins that way too.
        h.now = 1101
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == ["alice-long"])
        h.now = 5099
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == ["alice-long"])
        h.now = 5101
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == [])
    }

    /// Completion order is not expiry order: a short TTL finished later must not wait behind
    /// a long one finished earlier.
    @Test func aShortTTLCompletedLaterExpiresBeforeALongOneCompletedEarlier() {
        var h = Harness { $0.resultTTL = 1_000_000 }
        h.setUp()
        Self.submit(&h, "first", ttl: 500)
        h.now = 10
        Self.finishAll(&h)
        Self.submit(&h, "second", ttl: 5)
        h.now = 20
        Self.finishAll(&h)
        h.now = 26
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == ["alice-first"])
        h.now = 511
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == [])
    }

    @Test func failedAndCancelledTasksExpireByTheirTTLToo() {
        var h = Harness { $0.resultTTL = 1000 }
        h.setUp()
        Self.submit(&h, "fails", ttl: 3)
        Self.submit(&h, "cancelled", ttl: 0)
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-cancelled"), peer: "C") == true)
        h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.value(.report(nodeID: "n1", .init(taskID: "alice-fails", outcome: .failure(RPCError(code: 5, message: "no")))), peer: "N")
        // A TTL of 0: gone at the next sweep.
        h.now = 0.5
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == ["alice-fails"])
        h.now = 3.5
        h.state.tick(now: h.now)
        #expect(Self.kept(h) == [])
    }

    /// Each entry of a batch keeps its own TTL, the broker's when it gives none. (Reading
    /// `result_ttl` by name or by position, and refusing a bad one, is the decoder's business:
    /// BrokerCommandDecodingTests.aResultTTLIsReadByNameOrPositionAndABadOneIsRefused.)
    @Test func batchSubmissionsKeepEachEntrysResultTTL() {
        var h = Harness { $0.resultTTL = 1000 }
        h.setUp()
        let ids = h.value(.submitMany(clientID: "alice", [
            .success(Submission(method: "work", params: [], taskID: "named", resultTTL: 7)),
            .success(Submission(method: "work", params: [], taskID: "positional", maxRetries: 3, resultTTL: 8)),
            .success(Submission(method: "work", params: [], taskID: "plain")),
        ]), peer: "C")
        #expect(ids == ["alice-named", "alice-positional", "alice-plain"])
        #expect(h.state.tasks["alice-named"]?.resultTTL == 7)
        #expect(h.state.tasks["alice-positional"]?.resultTTL == 8)
        #expect(h.state.tasks["alice-plain"]?.resultTTL == nil)
        h.value(.submit(clientID: "alice", Submission(method: "work", params: [], taskID: "pos1", maxRetries: 3, resultTTL: 9)), peer: "C")
        #expect(h.state.tasks["alice-pos1"]?.resultTTL == 9)
    }

    /// An entry the decoder refused (here a negative `result_ttl`) fails alone and queues nothing.
    @Test func aBatchEntryWithABadResultTTLQueuesNothing() {
        var h = Harness()
        h.setUp()
        let refused = RPCError.invalidParams("client_new_tasks: tasks[0]: param \"result_ttl\" must be a non-negative number of seconds")
        let batch = h.value(.submitMany(clientID: "alice", [.failure(refused)]), peer: "C")
        #expect(batch.arrayValue?.first?["code"] == .int(ErrorCode.invalidParams.rawValue))
        #expect(h.state.taskCount == 0)
    }

    @Test func theTasksOwnTTLIsStoredAndCountsFromTheFinishTimeAfterARestart() {
        var h = BrokerStateJournalTests.journaling { $0.resultTTL = 1_000_000 }
        h.setUp()
        var kept = Kept()
        Self.submit(&h, "a", ttl: 100)
        Self.submit(&h, "b")
        kept.apply(h.state.takeChanges())
        #expect(kept.tasks["alice-a"]?.resultTTL == 100)
        #expect(kept.tasks["alice-b"]?.resultTTL == nil)
        Self.finishAll(&h)
        kept.apply(h.state.takeChanges())

        // The harness's wall clock is fixed, so the results are as old as the restart.
        var r = BrokerStateJournalTests.restarted(kept) { $0.resultTTL = 1_000_000 }
        #expect(r.state.tasks["alice-a"]?.resultTTL == 100)
        r.state.tick(now: r.now + 50)
        #expect(Self.kept(r) == ["alice-a", "alice-b"])
        r.state.tick(now: r.now + 101)
        #expect(Self.kept(r) == ["alice-b"])
        #expect(r.state.takeChanges().deletedTasks == ["alice-a"])
    }

    /// Results that expire leave nothing behind: the result budget's completion FIFO
    /// (`ResultBudget.order`, the eviction order) kept one entry per task ever completed when
    /// results left by `result_ttl` rather than by eviction — about 130 bytes a task for good,
    /// seen as a broker growing by 4 MB per 30,000 `zerotask bench` calls with nothing kept.
    @Test func expiredResultsLeaveNoEntriesInTheResultBudgetsFIFO() {
        var h = Harness { $0.resultTTL = 5 }
        h.setUp(workers: 2)
        var worst = 0  // the most entries beyond a pass's worth and two per kept result
        for i in 0..<5000 {
            // As `zerotask bench` does: client_call, the node pulls it and reports it.
            _ = h.run(.call(clientID: "alice", Submission(method: "work", params: [1, 2]), wait: nil), peer: "C")
            for id in Harness.ids(h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")) {
                h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(3))), peer: "N")
            }
            _ = h.state.takeOutputs()
            if i % 50 == 0 {
                h.now += 0.5
                h.value(.heartbeat(nodeID: "n1"), peer: "N")
                h.state.tick(now: h.now)
            }
            // Bounded all along: stale entries never outnumber the kept results by more than a pass's worth.
            worst = max(worst, h.state.results.queuedEntries - 1025 - 2 * h.state.results.count)
        }
        #expect(worst <= 0)
        h.now += 6
        h.state.tick(now: h.now)
        #expect(h.state.tasks.isEmpty)
        #expect(h.state.results.count == 0)
        #expect(h.state.results.queuedEntries <= 1025, "\(h.state.results.queuedEntries) entries left for 5000 expired results")
        #expect(h.state.resultExpiry.count == 0)
    }

    /// Dropping the expired results' entries keeps the others in completion order: the oldest
    /// kept result is still the first evicted.
    @Test func evictionFollowsCompletionOrderAfterExpiredEntriesAreDropped() {
        var h = Harness { $0.maxResults = 3 }
        h.setUp()
        for name in ["keep1", "keep2"] {
            Self.submit(&h, name, ttl: 500_000)
            h.now += 1
            Self.finishAll(&h)
        }
        // 3000 results expire one by one behind them: their entries go, in one pass or more.
        for i in 0..<3000 {
            Self.submit(&h, "short\(i)", ttl: 5)
            h.now += 1
            Self.finishAll(&h)
            h.now += 6
            h.state.tick(now: h.now)
        }
        #expect(Self.kept(h) == ["alice-keep1", "alice-keep2"])
        #expect(h.state.results.queuedEntries < 1100)
        for name in ["new1", "new2"] {
            Self.submit(&h, name, ttl: 500_000)
            h.now += 1
            Self.finishAll(&h)
        }
        #expect(Self.kept(h) == ["alice-keep2", "alice-new1", "alice-new2"])
    }

    /// A sweep takes only what is due off the expiry heap, earliest first, however much is kept.
    @Test func theExpiryHeapYieldsOnlyDueEntriesInOrder() {
        var heap = ResultExpiry()
        var rng = SplitMix64(seed: 7)
        var times: [MonotonicInstant] = []
        for i in 0..<10_000 {
            let at = MonotonicInstant(seconds: Double(rng.next() % 100_000) / 10)
            times.append(at)
            heap.push(at: at, "t\(i)")
        }
        let due = heap.popDue(now: 2500)
        #expect(due.map(\.at) == times.filter { $0 < 2500 }.sorted())
        #expect(heap.count == times.filter { $0 >= 2500 }.count)
        #expect(heap.first.map { $0.at >= 2500 } == true)
    }
}

/// A small seeded generator, so a test's random input is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
