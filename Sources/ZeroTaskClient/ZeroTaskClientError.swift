import ZeroTaskProtocol

/// Everything a `ZeroTaskClient` call can fail with.
///
/// Every method of the client throws only this type, or `CancellationError` when the calling
/// Swift task is cancelled.
public enum ZeroTaskClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The task ran and failed; `error` is the task's own error (code, message, data), e.g.
    /// -32060 timed out on the node, -32061 worker crashed, -32062 cancelled, or a plugin's code.
    case taskFailed(taskID: String, error: RPCError)
    /// The client stopped waiting for a task after `seconds`; the task itself may still finish.
    case timedOut(taskID: String, seconds: Double)
    /// No node advertises the method (checked by `call`, which fails fast instead of queueing
    /// work that nobody may ever take).
    case methodUnknown(method: String, known: [String])
    /// The broker did not answer a request within the bounded wait (not running, unreachable,
    /// or overloaded).
    case brokerUnreachable(endpoint: String, seconds: Double)
    /// The broker refused the request with a JSON-RPC error (unknown task id -32020, bad params
    /// -32602, client id taken -32010, queue full -32070, …).
    case invalidRequest(RPCError)
    /// The task has no result yet (-32050): it is queued, assigned or running.
    case taskNotComplete(taskID: String)
    /// The broker answered something the protocol does not allow, or a result did not decode
    /// into the requested type.
    case invalidResponse(String)
    /// An argument the caller passed cannot be used (params that do not encode as JSON, …).
    case invalidArgument(String)
    /// The broker does not implement this extension (it answered -32601): it speaks only the
    /// seed methods. `call`, `submit`, `status` and results fall back to those; discovery
    /// (`methods`, `nodes`, `stats`) and `cancel` have no seed equivalent.
    case unsupported(method: String, endpoint: String)
    /// The client was closed.
    case closed

    /// One line for a log or a user: what failed and why.
    public var description: String {
        switch self {
        case .taskFailed(let id, let e):
            return "task \(id) failed: \(e.message) (\(e.code))"
        case .timedOut(let id, let s):
            return "task \(id) did not complete within \(Self.format(s)) s"
        case .methodUnknown(let m, let known):
            let list = known.isEmpty ? "no node is serving any method" : "served: \(known.joined(separator: ", "))"
            return "no node serves method \(m) (\(list))"
        case .brokerUnreachable(let endpoint, let s):
            return "no broker answered at \(endpoint) within \(Self.format(s)) s"
        case .invalidRequest(let e):
            return "the broker refused the request: \(e.message) (\(e.code))"
        case .taskNotComplete(let id):
            return "task \(id) is not complete yet"
        case .invalidResponse(let why):
            return "unexpected answer from the broker: \(why)"
        case .invalidArgument(let why):
            return "invalid argument: \(why)"
        case .unsupported(let method, let endpoint):
            return "the broker at \(endpoint) does not support \(method) (it speaks only the seed methods)"
        case .closed:
            return "the client is closed"
        }
    }

    /// The JSON-RPC error behind a task failure or a refused request, if any.
    public var rpcError: RPCError? {
        switch self {
        case .taskFailed(_, let e), .invalidRequest(let e): e
        default: nil
        }
    }

    /// Seconds for messages: "5", "0.5", "2.3".
    static func format(_ seconds: Double) -> String {
        let r = (seconds * 10).rounded() / 10
        return r == r.rounded() && abs(r) < 1e15 ? String(Int64(r)) : "\(r)"
    }
}
