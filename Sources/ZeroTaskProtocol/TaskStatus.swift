/// The life of a task, with the protocol's numeric codes.
public enum TaskStatus: Int64, Sendable, CaseIterable, CustomStringConvertible {
    case queued = 1000
    case assigned = 3000
    case running = 5000
    case finished = 7000
    case failed = 9000

    /// Finished or failed: the task will not change again.
    public var isComplete: Bool { self == .finished || self == .failed }

    public var description: String {
        switch self {
        case .queued: "queued"
        case .assigned: "assigned"
        case .running: "running"
        case .finished: "finished"
        case .failed: "failed"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = s
    }
}
