/// Every error code of the protocol, in one place (PROTOCOL.md, "Error codes").
public enum ErrorCode: Int64, Sendable, CaseIterable {
    /// The body is not JSON.
    case parseError = -32700
    /// Not a JSON-RPC 2.0 request object, or too large.
    case invalidRequest = -32600
    /// No such method.
    case methodNotFound = -32601
    /// Missing, extra, wrong type or out of range; the message names the parameter.
    case invalidParams = -32602
    /// A fault inside the broker or node.
    case internalError = -32603
    /// The client id is malformed, unknown, disconnected or taken.
    case invalidClientID = -32010
    /// The task id is malformed, unknown or already taken.
    case invalidTaskID = -32020
    /// The node id is malformed, unknown or taken by a live node.
    case invalidNodeID = -32030
    /// The caller's role or identity may not make this call (security).
    case notAllowed = -32040
    /// The task has no result yet.
    case taskNotComplete = -32050
    /// The task ran past its deadline.
    case taskTimedOut = -32060
    /// The worker running the task died.
    case workerCrashed = -32061
    /// The task was cancelled.
    case taskCancelled = -32062
    /// The task's node was lost and its retries are exhausted.
    case retriesExhausted = -32063
    /// The task went over a sandbox limit (`data.limit` names it, with the figure).
    case resourceLimit = -32064
    /// The queue is full (backpressure).
    case queueFull = -32070
}

/// A JSON-RPC error object: what a request or a task failed with.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int64
    public var message: String
    public var data: JSONValue?

    public init(code: Int64, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(_ code: ErrorCode, _ message: String, data: JSONValue? = nil) {
        self.init(code: code.rawValue, message: message, data: data)
    }

    public var description: String { "\(message) (\(code))" }

    /// The error as a JSON object `{"code", "message", ["data"]}`.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("code", .int(code))
        o.append("message", .string(message))
        if let data { o.append("data", data) }
        return .object(o)
    }

    /// Reads an error object; `nil` when the value is not one.
    public init?(json: JSONValue) {
        guard case .object(let o) = json, let code = o["code"]?.int64Value,
            let message = o["message"]?.stringValue
        else { return nil }
        self.init(code: code, message: message, data: o["data"])
    }

    public static func invalidParams(_ message: String) -> RPCError { RPCError(.invalidParams, message) }
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(.methodNotFound, "method not found: \(method)")
    }
    /// What a node reports for a task that was cancelled before or while it ran.
    public static func taskCancelled(_ taskID: String) -> RPCError {
        RPCError(.taskCancelled, "task \(taskID) cancelled")
    }
}
