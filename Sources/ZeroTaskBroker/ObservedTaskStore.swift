import ZeroTaskProtocol

/// A store that times its commits and tells a `BrokerMonitor` whether they succeed; everything
/// else goes to the store it wraps.
final class ObservedTaskStore: TaskStore {
    private let base: TaskStore
    private let monitor: BrokerMonitor

    init(_ base: TaskStore, monitor: BrokerMonitor) {
        self.base = base
        self.monitor = monitor
    }

    var description: String { base.description }
    var isDurable: Bool { base.isDurable }
    func load() throws(StoreError) -> StoreContents { try base.load() }
    func close() { base.close() }

    func write(_ changes: StoreChanges) throws(StoreError) {
        let start = MonotonicInstant.now()
        do {
            try base.write(changes)
        } catch {
            monitor.storeWrote(failure: "\(error)")
            throw error
        }
        monitor.observer?.storeCommitted(seconds: MonotonicInstant.now() - start)
        monitor.storeWrote(failure: nil)
    }
}
