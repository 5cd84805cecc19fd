import Synchronization
import ZeroTaskProtocol

/// The broker as seen from outside its thread: the latest `BrokerSnapshot`, whether the store
/// writes, and the `TaskObserver` its state machine tells of each task. Give one to
/// `BrokerService` and read it from an HTTP server.
public final class BrokerMonitor: Sendable {
    /// Told of every task's transitions, on the broker's thread.
    public let observer: (any TaskObserver)?
    /// Seconds between snapshots the broker thread takes.
    public let interval: Double
    /// Requests for the broker thread to answer (the dashboard's lists and actions).
    public let inbox = BrokerInbox()
    private let latest = Mutex<BrokerSnapshot?>(nil)
    /// Why the store's last write failed; nil once one succeeds.
    private let storeFailure = Mutex<String?>(nil)

    public init(observer: (any TaskObserver)? = nil, interval: Double = 0.5) {
        self.observer = observer
        self.interval = interval
    }

    /// The latest snapshot, or nil before the broker took one.
    public var snapshot: BrokerSnapshot? { latest.withLock { $0 } }

    /// Whether the broker serves and its store writes, judged at monotonic time `now`.
    public func health(now: MonotonicInstant) -> BrokerHealth {
        guard let taken = snapshot?.takenAt else { return .unhealthy("the broker has not started") }
        // The broker thread takes one every `interval` seconds while it serves (its poll wakes at
        // least every 100 ms): a stale one means it is stuck or gone.
        if now - taken > max(5, 10 * interval) {
            return .unhealthy("the broker thread has not answered for \(Int(now - taken)) s")
        }
        if let failure = storeFailure.withLock({ $0 }) { return .unhealthy("the store cannot write: \(failure)") }
        return .healthy
    }

    func publish(_ snapshot: BrokerSnapshot) { latest.withLock { $0 = snapshot } }

    func storeWrote(failure: String?) {
        storeFailure.withLock { $0 = failure }
    }
}

/// What `/health` answers.
public enum BrokerHealth: Sendable, Equatable {
    case healthy
    /// The reason names what does not work.
    case unhealthy(String)
}
