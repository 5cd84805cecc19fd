import Logging
import ZeroTaskProtocol

/// How a broker joins a shared PostgreSQL queue (`--store postgres://…`).
public struct SharedQueueOptions: Sendable {
    public var url: String
    public var password: String?
    /// The owner of this broker's claims and the id of its lease: stable across restarts (a
    /// broker started again under it hands back at once what it held before).
    public var brokerID: String
    /// `broker_timeout`: a broker whose lease went unrenewed this long is dead.
    public var brokerTimeout: Double
    /// False behind PgBouncer in transaction mode: no LISTEN, the poll timer alone.
    public var listening: Bool

    public init(url: String, password: String? = nil, brokerID: String, brokerTimeout: Double = BrokerLease.defaultTimeout,
                listening: Bool = true) {
        self.url = url
        self.password = password
        self.brokerID = brokerID
        self.brokerTimeout = brokerTimeout
        self.listening = listening
    }
}

/// The broker thread's own connections to the shared queue, besides the store writer's: one
/// for its lease, rescues and look-ups, one that LISTENs (its socket is in the broker's poll).
///
/// The lease is renewed on the broker thread before it handles anything else in a turn, so a
/// broker that was stopped (SIGSTOP, a frozen VM) past `broker_timeout` learns that it was
/// presumed dead, and gives up its claims, before it acts on any of them.
final class SharedQueueLink {
    let options: SharedQueueOptions
    private let queue: PostgresQueue
    private let lease: BrokerLease
    private let wakeup: QueueWakeup
    private let logger: Logger
    private var lastRenew = MonotonicInstant.distantPast, lastRescue = MonotonicInstant.distantPast
    private var failures = 0

    /// The store's commits, whose own notifications this broker skips.
    private let store: PostgresSharedStore?

    init(_ options: SharedQueueOptions, store: PostgresSharedStore? = nil, logger: Logger) throws(StoreError) {
        self.options = options
        self.store = store
        self.logger = logger
        queue = try PostgresQueue(url: options.url, password: options.password, brokerID: options.brokerID, prepares: options.listening)
        lease = BrokerLease(queue: queue, timeout: options.brokerTimeout)
        wakeup = try QueueWakeup(url: options.url, password: options.password, listening: options.listening)
        // Started again under the same id: whatever it held before is stale; hand it back.
        try lease.resign()
        try lease.renew()
    }

    /// The LISTEN socket, for the broker's poll.
    var fileDescriptor: Int32? { wakeup.fileDescriptor }

    /// One turn: notifications, the lease when due, rescues at most every second.
    func turn(_ state: inout BrokerState, now: MonotonicInstant) {
        do throws(StoreError) {
            let look = try wakeup.look(now: now, ownPID: store?.committerPID ?? 0)
            if look.notifications > 0 {
                state.sharedQueueNotified(methods: look.methods, anyMethod: look.anyMethod, results: look.results)
            }
            if now - lastRenew >= lease.renewInterval {
                lastRenew = now
                if try !lease.renew() {
                    logger.error("broker \(options.brokerID) was presumed dead (silent past broker_timeout \(options.brokerTimeout) s): its claims are stale; other brokers run those tasks")
                    state.dropAllClaims()
                }
            }
            if now - lastRescue >= min(1, options.brokerTimeout / 3) {
                lastRescue = now
                let rescued = try lease.rescue()
                if !rescued.isEmpty {
                    let brokers = Set(rescued.map(\.broker)).sorted().joined(separator: ", ")
                    logger.warning("put \(rescued.count) tasks of dead broker(s) \(brokers) back in the shared queue")
                    state.sharedQueueNotified(methods: [], anyMethod: true, results: false)
                }
            }
            if failures > 0 {
                logger.notice("shared queue reachable again after \(failures) failed attempts")
                failures = 0
            }
        } catch {
            failures += 1
            if failures == 1 || failures % 50 == 0 { logger.error("shared queue: \(error)") }
        }
    }

    /// Claims now, on this thread's connection (a pull that does not wait: `claimForPull`).
    func claim(_ ask: SharedQueueRequest.Claim) -> [StoredTask] {
        do throws(StoreError) {
            let rows = try queue.transaction(PostgresSharedStore.claimStatements(ask, brokerID: options.brokerID)).last ?? []
            return try PostgresSharedStore.claimed(rows, store: queue.description)
        } catch {
            logger.error("shared queue: cannot claim: \(error)")
            return []
        }
    }

    /// The claim and look-up functions the rules call (`QueueReader`): this link, on the broker
    /// thread only.
    var reader: QueueReader {
        let box = UncheckedBox(self)
        return QueueReader(claim: { ask in box.value.claim(ask) }, lookUp: { ids in box.value.lookUp(ids) })
    }

    /// The tasks with these ids as the database has them (queued, claimed or finished).
    func lookUp(_ ids: [String]) -> [StoredTask] {
        guard !ids.isEmpty else { return [] }
        do throws(StoreError) { return try queue.lookUp(ids) } catch {
            logger.error("shared queue: cannot read tasks \(ids.prefix(3).joined(separator: ", ")): \(error)")
            return []
        }
    }

    /// Leaves: the lease row goes and unfinished claims go back to the queue at once.
    func close() {
        do throws(StoreError) { try lease.resign() } catch { logger.error("shared queue: cannot resign the lease: \(error)") }
        queue.close()
        wakeup.close()
    }
}

extension PostgresQueue {
    /// Tasks by id from both tables.
    func lookUp(_ ids: [String]) throws(StoreError) -> [StoredTask] {
        let list = JSONValue.array(ids.map { .string($0) }).jsonString
        let out = try transaction([
            .init(PostgresSharedStore.watchSQL(from: "zerotask_results"), [list]),
            .init(PostgresSharedStore.watchSQL(from: "zerotask_tasks"), [list]),
        ])
        var tasks: [StoredTask] = []
        for row in out[0] + out[1] { tasks.append(try PostgresTaskStore.task(row, store: description)) }
        return tasks
    }
}

/// A reference used only on the thread that owns it, carried through a `Sendable` closure.
private final class UncheckedBox<Value: AnyObject>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
