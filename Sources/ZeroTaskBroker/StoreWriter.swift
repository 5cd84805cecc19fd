#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Synchronization
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskSystem

/// Writes the broker's changes to a durable store on a thread of its own, so the broker loop
/// goes on handling requests while a commit (and its fsync) runs.
///
/// The loop hands over, per iteration, the changes and the replies that depend on them; the
/// writer commits everything queued since its last commit in one transaction, then hands the
/// replies back, in order, to be sent. No reply is sent before what it acknowledges is stored;
/// commits grow with the load instead of the load waiting for each commit.
final class StoreWriter: @unchecked Sendable {
    private let store: TaskStore
    private let logger: Logger
    /// `submitted` counts every batch handed over; `written` those on disk. (The count cannot be
    /// derived from `written + queued.count`: a batch being committed is in neither.)
    private let state = Mutex<(queued: [StoreChanges], stopping: Bool, submitted: Int, written: Int)>(([], false, 0, 0))
    /// What commits on a shared queue brought back, until the loop takes it (with `written`).
    private let feedback = Mutex<[StoreFeedback]>([])
    private let wake = DispatchSemaphore(value: 0)
    private var thread: LoopThread?
    /// Signalled after each commit; the loop polls its `readFD`.
    let done = WakePipe()

    init(store: TaskStore, logger: Logger) {
        self.store = store
        self.logger = logger
        thread = LoopThread(name: "zerotask-store") { [self] in run() }
    }

    /// Queues one iteration's changes (possibly none, to keep the order of its replies).
    /// Returns the sequence number the caller waits for (see `written`).
    func submit(_ changes: StoreChanges) -> Int {
        let n = state.withLock { s -> Int in
            s.queued.append(changes)
            s.submitted += 1
            return s.submitted
        }
        wake.signal()
        return n
    }

    /// How many submitted batches are on disk (they complete in order). The owner's loop
    /// drains `done` when poll says so.
    var written: Int { state.withLock { $0.written } }

    /// What the commits written so far brought back (shared queue), oldest first; cleared.
    func takeFeedback() -> [StoreFeedback] {
        feedback.withLock { f in
            defer { f.removeAll() }
            return f
        }
    }

    /// Writes what is queued and stops the thread.
    func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
        thread?.wait()
    }

    private func run() {
        while true {
            wake.wait()
            let (batch, stopping) = state.withLock { s -> ([StoreChanges], Bool) in
                defer { s.queued.removeAll(keepingCapacity: true) }
                return (s.queued, s.stopping)
            }
            if !batch.isEmpty {
                let merged = Self.merge(batch)
                if !merged.isEmpty { persist(merged) }
                state.withLock { $0.written += batch.count }
                done.signal()
            }
            if stopping && state.withLock({ $0.queued.isEmpty }) { break }
        }
    }

    /// Several iterations' changes as one: for each task and client, the last word counts
    /// (a row written later replaces an earlier one, a deletion drops it, and the reverse).
    static func merge(_ batches: [StoreChanges]) -> StoreChanges {
        if batches.count == 1 { return batches[0] }
        var tasks = LastWord<StoredTask>(), clients = LastWord<StoredClient>(), schedules = LastWord<Schedule>()
        for c in batches {
            for s in c.schedules { schedules.write(s.name, s) }
            for name in c.deletedSchedules { schedules.delete(name) }
            for t in c.tasks { tasks.write(t.id, t) }
            for id in c.deletedTasks { tasks.delete(id) }
            for r in c.clients { clients.write(r.id, r) }
            for id in c.deletedClients { clients.delete(id) }
        }
        var out = StoreChanges()
        out.pausedMethods = batches.last { $0.pausedMethods != nil }?.pausedMethods
        out.tasks = tasks.written
        out.deletedTasks = tasks.deletions
        out.clients = clients.written
        out.deletedClients = clients.deletions
        out.schedules = schedules.written
        out.deletedSchedules = schedules.deletions
        // The latest room to claim for; every read-back and hand-back asked.
        out.shared.claim = batches.last { $0.shared.claim != nil }?.shared.claim
        out.shared.watch = Array(Set(batches.flatMap(\.shared.watch)))
        out.shared.watchOpen = batches.contains { $0.shared.watchOpen }
        out.shared.releases = batches.flatMap(\.shared.releases)
        return out
    }

    /// Writes, retrying while the store fails: replies must not promise what is not stored, so
    /// they wait rather than go out.
    private func persist(_ changes: StoreChanges) {
        var failures = 0
        while true {
            do throws(StoreError) {
                let started = MonotonicInstant.now()
                let back = try store.exchange(changes)
                if logger.logLevel <= .debug {
                    logger.debug("store commit: \(changes.tasks.count) tasks, \(changes.deletedTasks.count) deleted, \(changes.clients.count) clients, watch \(changes.shared.watch.count), claim \(changes.shared.claim?.limit ?? 0), \(back.claimed.count) claimed in \(Int((MonotonicInstant.now() - started) * 1e6)) µs")
                }
                if !back.isEmpty { feedback.withLock { $0.append(back) } }
                if failures > 0 { logger.notice("store \(store.description) written again after \(failures) failures") }
                return
            } catch {
                failures += 1
                if failures == 1 || failures % 100 == 0 {
                    logger.critical("cannot write \(changes.count) changes: \(error); holding replies and retrying")
                }
                if state.withLock({ $0.stopping }) && failures > 10 { return }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }
}

/// The last word per id over several batches of one kind of row: the row last written (in the
/// order ids first appeared), or its deletion.
private struct LastWord<Row> {
    private var rows: [String: Row] = [:]
    private var order: [String] = []
    private var seen = Set<String>()
    private var deleted = Set<String>()

    mutating func write(_ id: String, _ row: Row) {
        rows[id] = row
        if seen.insert(id).inserted { order.append(id) }
        deleted.remove(id)
    }

    mutating func delete(_ id: String) {
        rows[id] = nil
        deleted.insert(id)
    }

    var written: [Row] { order.compactMap { rows[$0] } }
    var deletions: [String] { Array(deleted) }
}
