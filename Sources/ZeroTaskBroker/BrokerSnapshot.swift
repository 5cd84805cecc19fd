import ZeroTaskProtocol

/// What the broker holds at one moment, for `/metrics` and the dashboard: taken on the broker's
/// thread (`BrokerState.snapshot`) and read from any other through a `BrokerMonitor`.
public struct BrokerSnapshot: Sendable, Equatable {
    /// One method's load.
    public struct MethodLoad: Sendable, Equatable {
        /// Tasks waiting in its queue.
        public var queued = 0
        /// Tasks assigned to a node or running there.
        public var running = 0

        public init(queued: Int = 0, running: Int = 0) {
            self.queued = queued
            self.running = running
        }
    }

    /// One connected node.
    public struct NodeLoad: Sendable, Equatable {
        public var id: String
        /// Declared worker processes (0: unknown, a seed node).
        public var workers: Int
        /// Workers running a task: what the node last reported, else the tasks assigned to it.
        public var busy: Int
        /// Seconds since the node was last heard from.
        public var silentSeconds: Double

        public init(id: String, workers: Int, busy: Int, silentSeconds: Double) {
            self.id = id
            self.workers = workers
            self.busy = busy
            self.silentSeconds = silentSeconds
        }
    }

    /// Monotonic seconds at which it was taken.
    public var takenAt: MonotonicInstant
    /// Method name → its load, for every method with queued or running tasks.
    public var methods: [String: MethodLoad]
    /// The connected nodes, by id.
    public var nodes: [NodeLoad]

    public init(takenAt: MonotonicInstant, methods: [String: MethodLoad] = [:], nodes: [NodeLoad] = []) {
        self.takenAt = takenAt
        self.methods = methods
        self.nodes = nodes
    }
}

extension BrokerState {
    /// The load per method and node now; O(queues + running tasks + nodes).
    public func snapshot(now: MonotonicInstant) -> BrokerSnapshot {
        var methods: [String: BrokerSnapshot.MethodLoad] = [:]
        for (name, queue) in queues where queue.liveCount > 0 { methods[name, default: .init()].queued = queue.liveCount }
        var loads: [BrokerSnapshot.NodeLoad] = []
        for node in nodes.all.sorted(by: { $0.id < $1.id }) {
            for id in node.assigned {
                if let method = tasks[id]?.method { methods[method, default: .init()].running += 1 }
            }
            let busy = node.status["running"]?.int64Value.map(Int.init) ?? node.assigned.count
            loads.append(.init(id: node.id, workers: node.workers, busy: busy, silentSeconds: max(0, now - node.lastSeen)))
        }
        return BrokerSnapshot(takenAt: now, methods: methods, nodes: loads)
    }
}
