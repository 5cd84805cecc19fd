import ZeroTaskProtocol

/// One run of a task that failed with an application error and was tried again (or was the
/// last of such runs): kept in the task's history, so the final outcome still shows what every
/// earlier attempt said.
public struct FailedAttempt: Sendable, Equatable {
    /// The task's attempt number (its `attempts` when that run was handed out, from 1).
    public var attempt: Int
    /// The node that ran it.
    public var nodeID: String?
    /// What the plugin (or the node) reported.
    public var error: RPCError
    /// Wall-clock time of the report, seconds since 1970.
    public var at: WallInstant

    public init(attempt: Int, nodeID: String?, error: RPCError, at: WallInstant) {
        self.attempt = attempt
        self.nodeID = nodeID
        self.error = error
        self.at = at
    }

    /// `{"attempt", "node_id", "error": {code, message, data?}, "at"}`: the form of
    /// `client_task_info`'s `history` and of the stores' column.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("attempt", .int(Int64(attempt)))
        o.append("node_id", nodeID.map { .string($0) } ?? .null)
        o.append("error", error.json)
        o.append("at", .double(at.seconds))
        return .object(o)
    }

    /// Reads the `json` form; nil when it is not one.
    public init?(json: JSONValue) {
        guard let n = json["attempt"]?.int64Value, let e = json["error"].flatMap({ RPCError(json: $0) }),
            let at = json["at"]?.doubleValue
        else { return nil }
        self.init(attempt: Int(n), nodeID: json["node_id"]?.stringValue, error: e, at: WallInstant(seconds: at))
    }
}

extension FailedAttempt: JSONListItem {}

/// A value the stores keep in a list column as JSON: a task's history, its events.
protocol JSONListItem {
    var json: JSONValue { get }
    init?(json: JSONValue)
}

extension Array where Element: JSONListItem {
    /// As the stores keep it: a JSON array, nil when empty.
    var column: [UInt8]? { isEmpty ? nil : JSONValue.array(map(\.json)).jsonBytes }

    /// Read back from a stores' column; nil when it is not an array or an item does not read.
    init?(column json: JSONValue) {
        guard case .array(let items) = json else { return nil }
        var out: [Element] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let e = Element(json: item) else { return nil }
            out.append(e)
        }
        self = out
    }
}
