import Logging
import ZeroTaskProtocol

/// Each task the node ran, at debug: method, id, duration and outcome. swift-log evaluates the
/// message and metadata only when debug is on, so the hot path pays a level check.
extension NodeStateMachine {
    func logTaskDone(_ t: Worker.QueuedTask, _ outcome: Result<JSONValue, RPCError>, seconds: Double) {
        logger.debug("task \(t.assignment.id) \(t.assignment.method) \(Self.outcomeText(t, outcome)) in \(Self.milliseconds(seconds)) ms",
            metadata: [
                "task_id": "\(t.assignment.id)", "method": "\(t.assignment.method)",
                "duration_ms": "\(Self.milliseconds(seconds))", "outcome": "\(Self.outcomeName(t, outcome))",
            ])
    }

    /// `ok`, `cancelled`, or `failed`.
    static func outcomeName(_ t: Worker.QueuedTask, _ outcome: Result<JSONValue, RPCError>) -> String {
        if t.cancelled { return "cancelled" }
        if case .failure = outcome { return "failed" }
        return "ok"
    }

    static func outcomeText(_ t: Worker.QueuedTask, _ outcome: Result<JSONValue, RPCError>) -> String {
        if case .failure(let e) = outcome, !t.cancelled { return "failed: \(e.message) (code \(e.code))" }
        return outcomeName(t, outcome)
    }

    static func milliseconds(_ seconds: Double) -> Double { (seconds * 10_000).rounded() / 10 }
}
