import Synchronization
import ZeroTaskClient
import ZeroTaskProtocol

/// N tasks with K in flight through one client, every result checked: the loop behind
/// `zerotask bench`. It lives in a library of its own so that it is optimized like the client
/// library it drives: the `zerotask` executable's own module (argument parsing and wiring) is
/// built without optimization to shorten a first release build (Package.swift).
public struct LoadRun: Sendable {
    public var method: String
    public var tasks: Int
    public var inflight: Int
    /// Submit each task and wait for it (two requests) instead of one call.
    public var submitThenWait: Bool
    /// How long one task may take before it counts as an error.
    public var waitTimeout: Duration

    public init(method: String, tasks: Int, inflight: Int, submitThenWait: Bool = false, waitTimeout: Duration = .seconds(60)) {
        self.method = method
        self.tasks = tasks
        self.inflight = inflight
        self.submitThenWait = submitThenWait
        self.waitTimeout = waitTimeout
    }

    /// What the run found.
    public struct Tally: Sendable {
        public var done = 0
        public var ok = 0
        public var wrong = 0
        public var failed = 0
        public var timedOut = 0
        /// Seconds from each call to its answer, for the tasks that succeeded.
        public var latencies: [Double] = []
        /// The first few errors, for people.
        public var examples: [String] = []
        /// An error that stopped the whole run (the broker is gone).
        public var fatal: ZeroTaskClientError?

        mutating func example(_ s: String) { if examples.count < 5 { examples.append(s) } }
        public var errors: Int { wrong + failed + timedOut }
    }

    /// State the callers share.
    private final class Shared: Sendable {
        let tally = Mutex(Tally())
        let next = Atomic<Int>(0)
    }

    /// Runs the tasks: task i gets params [i, i+1], and for math.add its result must be 2i+1.
    /// `progress` is called about ten times a second with the tasks done so far and the seconds
    /// since the start, and once more at the end. Returns the tally and the run's seconds.
    public func run(_ client: ZeroTaskClient, progress: @escaping @Sendable (Int, Double) -> Void = { _, _ in }) async -> (Tally, Double) {
        let shared = Shared()
        let started = MonotonicInstant.now()
        let checkSums = method == "math.add"
        let progressTask = Task {
            while !Task.isCancelled {
                progress(shared.tally.withLock { $0.done }, MonotonicInstant.now() - started)
                try? await Task.sleep(for: .milliseconds(100))
            }
            progress(shared.tally.withLock { $0.done }, MonotonicInstant.now() - started)
        }
        // The calls run on the client's I/O thread, as a single-threaded event loop would: no
        // thread switch between a reply and the next call.
        await withTaskExecutorPreference(client.executor) {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<min(inflight, tasks) {
                    group.addTask { [method, tasks, waitTimeout, submitThenWait] in
                        while shared.tally.withLock({ $0.fatal == nil }) {
                            let i = shared.next.add(1, ordering: .relaxed).oldValue
                            guard i < tasks else { return }
                            let t0 = MonotonicInstant.now()
                            let outcome: Result<JSONValue, ZeroTaskClientError>
                            do {
                                let params = Params.positional([.int(Int64(i)), .int(Int64(i) + 1)])
                                if submitThenWait {
                                    let task = try await client.submit(method, params)
                                    outcome = .success(try await task.wait(timeout: waitTimeout))
                                } else {
                                    outcome = .success(try await client.call(method, params, timeout: waitTimeout))
                                }
                            } catch let e as ZeroTaskClientError {
                                outcome = .failure(e)
                            } catch {
                                return
                            }
                            let latency = MonotonicInstant.now() - t0
                            shared.tally.withLock { t in
                                t.done += 1
                                switch outcome {
                                case .success(let v):
                                    if checkSums && v != .int(2 * Int64(i) + 1) {
                                        t.wrong += 1
                                        t.example("wrong result for \(method)(\(i), \(i + 1)): got \(v.jsonString), expected \(2 * i + 1)")
                                    } else {
                                        t.ok += 1
                                    }
                                    t.latencies.append(latency)
                                case .failure(.taskFailed(let id, let e)):
                                    t.failed += 1
                                    t.example("task \(id) failed: \(e.message) (code \(e.code))")
                                case .failure(.timedOut(let id, let s)):
                                    t.timedOut += 1
                                    t.example("task \(id) took longer than \(SecondsText.format(s))")
                                case .failure(let e):
                                    if t.fatal == nil { t.fatal = e }
                                }
                            }
                        }
                    }
                }
            }
        }
        let seconds = MonotonicInstant.now() - started
        progressTask.cancel()
        await progressTask.value
        return (shared.tally.withLock { $0 }, seconds)
    }
}
