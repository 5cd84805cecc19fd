import Synchronization
import ZeroTaskProtocol

/// Everyone waiting for task results on one client, served by few long polls
/// (`client_wait_results`), coalesced by the rules of `WaitCoverage`: a poll returns as soon as
/// one of its tasks completes, its finished tasks are resolved, and the rest are polled again
/// together with any newcomers. So K concurrent waits cost about one request per completion
/// burst, not K.
final class ResultWaiters: Sendable {
    /// A finished task's result, or a failed task's own error.
    typealias Outcome = Result<JSONValue, RPCError>

    private struct Waiter: Sendable {
        let token: UInt64
        let deadline: MonotonicInstant?
        /// The timeout the caller asked for, for the error it gets.
        let seconds: Double?
        let continuation: CheckedContinuation<Outcome, Error>
    }

    private struct State: Sendable {
        var waiters: [String: [Waiter]] = [:]
        var coverage = WaitCoverage()
        var nextToken: UInt64 = 0
        var closed = false
        /// A sweeper task runs while some waiter has a deadline (one for all, not a timer each).
        var sweeping = false
    }

    /// The longest one poll may be held by the broker (its own cap is `max_wait`, 60 s).
    static let longestPoll = 25.0
    /// The most task ids one poll carries: the broker answers a poll as soon as any of its tasks
    /// completes, and the rest are polled again, so small polls keep that re-poll cheap.
    static let idsPerPoll = 64

    private let state = Mutex(State())

    /// Waits for a task to complete.
    /// - Returns: the task's result, or its error when it failed.
    /// - Throws: `.timedOut` after `timeout` seconds, the broker's errors, `CancellationError`.
    func wait(for taskID: String, timeout: Double?, client: ZeroTaskClient) async throws -> Outcome {
        let token = state.withLock { s in
            s.nextToken += 1
            return s.nextToken
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let deadline = timeout.map { MonotonicInstant.now() + $0 }
                let (startPoll, refused) = state.withLock { s -> (Bool, Bool) in
                    if s.closed { return (false, true) }
                    s.waiters[taskID, default: []].append(
                        Waiter(token: token, deadline: deadline, seconds: timeout, continuation: continuation))
                    return (s.coverage.waiterAdded(taskID), false)
                }
                if refused {
                    continuation.resume(throwing: ZeroTaskClientError.closed)
                    return
                }
                if timeout != nil { startSweeper() }
                if startPoll { Task { await self.pollRounds(client) } }
                // Cancelled before the waiter existed: the handler below found nothing to cancel.
                if Task.isCancelled { finish(taskID, token: token, with: .failure(CancellationError())) }
            }
        } onCancel: {
            finish(taskID, token: token, with: .failure(CancellationError()))
        }
    }

    /// Fails every waiter with `.closed` and refuses new ones.
    func closeAll() {
        let all = state.withLock { s -> [Waiter] in
            s.closed = true
            defer { s.waiters = [:] }
            return s.waiters.values.flatMap { $0 }
        }
        for w in all {
            w.continuation.resume(throwing: ZeroTaskClientError.closed)
        }
    }

    /// How often deadlines are checked: timeouts fire within this much of their time.
    static let sweepInterval = Duration.milliseconds(20)

    /// Starts the one task that times waiters out, unless it runs already. A timer per waiter
    /// (a sleeping Swift task each) costs more than the whole rest of a short task's wait.
    private func startSweeper() {
        let start = state.withLock { s -> Bool in
            guard !s.sweeping else { return false }
            s.sweeping = true
            return true
        }
        guard start else { return }
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: Self.sweepInterval)
                guard let self, self.sweep() else { return }
            }
        }
    }

    /// Times out overdue waiters; returns whether any waiter with a deadline is left.
    private func sweep() -> Bool {
        let now = MonotonicInstant.now()
        var overdue: [(String, Waiter)] = []
        let more = state.withLock { s -> Bool in
            var left = false
            for (id, list) in s.waiters {
                var keep: [Waiter] = []
                for w in list {
                    if let d = w.deadline, d <= now { overdue.append((id, w)) } else { keep.append(w) }
                    if w.deadline != nil, !(w.deadline! <= now) { left = true }
                }
                if keep.count != list.count {
                    s.waiters[id] = keep.isEmpty ? nil : keep
                    if keep.isEmpty { s.coverage.waitersGone(id) }
                }
            }
            if !left { s.sweeping = false }
            return left
        }
        for (id, w) in overdue {
            w.continuation.resume(throwing: ZeroTaskClientError.timedOut(taskID: id, seconds: w.seconds ?? 0))
        }
        return more
    }

    /// Resolves one waiter (timeout, cancellation), if it is still waiting.
    private func finish(_ taskID: String, token: UInt64, with result: Result<Outcome, Error>) {
        let waiter = state.withLock { s -> Waiter? in
            guard var list = s.waiters[taskID], let i = list.firstIndex(where: { $0.token == token }) else { return nil }
            let w = list.remove(at: i)
            s.waiters[taskID] = list.isEmpty ? nil : list
            if list.isEmpty { s.coverage.waitersGone(taskID) }
            return w
        }
        guard let waiter else { return }
        waiter.continuation.resume(with: result)
    }

    /// Resolves every waiter of a task.
    private func finishAll(_ taskID: String, with result: Result<Outcome, Error>) {
        let list = state.withLock { s in s.waiters.removeValue(forKey: taskID) ?? [] }
        for w in list {
            w.continuation.resume(with: result)
        }
    }

    /// Polls until no uncovered id is left for this round's gatherer.
    private func pollRounds(_ client: ZeroTaskClient) async {
        while true {
            let now = MonotonicInstant.now()
            let (ids, more, wait) = state.withLock { s -> ([String], Bool, Double) in
                let (ids, more) = s.coverage.beginPoll(limit: Self.idsPerPoll)
                var wait = 0.0
                for id in ids {
                    for w in s.waiters[id] ?? [] {
                        wait = max(wait, w.deadline.map { $0 - now } ?? Self.longestPoll)
                    }
                }
                // Never spin: waiters about to expire still get a short poll.
                return (ids, more, min(Self.longestPoll, max(0.1, wait)))
            }
            guard !ids.isEmpty else { return }
            if more { Task { await self.pollRounds(client) } }
            await poll(ids, wait: wait, client)
            let again = state.withLock { s -> Bool in
                let waiters = s.waiters
                return s.coverage.pollEnded(ids) { waiters[$0] != nil } && !s.closed
            }
            if !again { return }
        }
    }

    private func poll(_ ids: [String], wait: Double, _ client: ZeroTaskClient) async {
        do {
            let answer: JSONValue
            do {
                answer = try await client.rpc(.clientWaitResults,
                    .positional([.string(client.clientID), .array(ids.map { .string($0) }), .double(wait)]), wait: wait)
            } catch ZeroTaskClientError.unsupported {
                answer = try await client.seedWaitResults(ids, wait: wait)
            }
            resolve(answer)
        } catch let error as ZeroTaskClientError where error.rpcError?.code == ErrorCode.invalidTaskID.rawValue && ids.count > 1 {
            // One unknown id fails the whole request: ask for each alone to find out which.
            for id in ids { await poll([id], wait: 0, client) }
        } catch {
            for id in ids { finishAll(id, with: .failure(error)) }
        }
    }

    /// Resolves the waiters of every completed task in a `client_wait_results` answer.
    private func resolve(_ answer: JSONValue) {
        for entry in answer.arrayValue ?? [] {
            guard let id = entry["task_id"]?.stringValue else { continue }
            finishAll(id, with: .success(TaskHandle.entryOutcome(entry)))
        }
    }
}
