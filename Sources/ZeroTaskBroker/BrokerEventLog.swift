import Logging
import ZeroTaskProtocol

/// How the broker's events become log lines, at most `limit` per kind (`BrokerEvent.kind`) in
/// each `interval`: a node that loses a thousand tasks, or a method failing every call, gives
/// `limit` lines and then one "…and K more" line when the interval ends, instead of drowning
/// the log. Time is passed in, so the rule is tested without sleeping.
public struct BrokerEventLog: Sendable {
    /// One line to log.
    public struct Line: Sendable, Equatable {
        public var level: Logger.Level
        public var message: String
        /// What a JSON log shipper can filter on: `kind`, and the node, task and method named.
        public var metadata: [String: String]
    }

    /// Lines per kind per interval.
    public let limit: Int
    /// Seconds.
    public let interval: Double

    /// One kind's current interval: when it began, lines logged, events held back and the
    /// highest level among those.
    private struct Window: Sendable {
        var start: MonotonicInstant
        var logged = 0
        var held = 0
        var heldLevel = Logger.Level.trace
    }

    private var windows: [String: Window] = [:]

    public init(limit: Int = 10, interval: Double = 10) {
        self.limit = limit
        self.interval = interval
    }

    /// The lines for `events` at `now`, in order, after the summaries of intervals that ended.
    public mutating func lines(for events: [BrokerEvent], now: MonotonicInstant) -> [Line] {
        var out = summaries(now: now)
        for event in events {
            let kind = event.kind
            var w = windows[kind] ?? Window(start: now)
            let level = Self.level(event)
            if w.logged < limit {
                w.logged += 1
                out.append(Line(level: level, message: event.description, metadata: Self.metadata(event)))
            } else {
                w.held += 1
                if level > w.heldLevel { w.heldLevel = level }
            }
            windows[kind] = w
        }
        return out
    }

    /// "…and K more" for each kind whose interval ended with events held back; forgets kinds
    /// whose interval ended, so the next event of them starts a fresh one.
    public mutating func summaries(now: MonotonicInstant) -> [Line] {
        var out: [Line] = []
        for (kind, w) in windows.sorted(by: { $0.key < $1.key }) where now - w.start >= interval {
            windows[kind] = nil
            guard w.held > 0 else { continue }
            out.append(Line(level: w.heldLevel,
                message: "…and \(w.held) more \(kind) events in \(Int(interval.rounded())) s (at most \(limit) logged per \(Int(interval.rounded())) s)",
                metadata: ["kind": kind, "suppressed": String(w.held)]))
        }
        return out
    }

    /// Warnings for losses (a node lost holding tasks, results deleted early, quarantines),
    /// notices for the cluster changing, info for single tasks.
    static func level(_ event: BrokerEvent) -> Logger.Level {
        switch event {
        case .taskFailed, .taskRequeued: .info
        default: event.isTrouble ? .warning : .notice
        }
    }

    static func metadata(_ event: BrokerEvent) -> [String: String] {
        var m = ["kind": event.kind]
        switch event {
        case let .nodeJoined(id, _, _), let .nodeLost(id, _, _, _), let .pluginsQuarantined(id, _):
            m["node_id"] = id
        case let .taskFailed(id, method, code, _):
            m["task_id"] = id
            m["method"] = method
            m["code"] = String(code)
        case let .taskRequeued(id, method, _):
            m["task_id"] = id
            m["method"] = method
        case let .queueControlled(method, action, _):
            m["method"] = method
            m["action"] = action
        case let .scheduleTickFailed(schedule, id, _):
            m["schedule"] = schedule
            m["task_id"] = id
        case .resultsEvicted: break
        }
        return m
    }
}

extension Logger {
    /// Logs lines from a `BrokerEventLog`.
    func log(_ lines: [BrokerEventLog.Line]) {
        for line in lines {
            log(level: line.level, "\(line.message)", metadata: line.metadata.mapValues { .string($0) })
        }
    }
}
