import ZeroTaskProtocol

/// Why the broker's rules refuse a request. The core throws these; `rpcError` maps each to
/// the JSON-RPC error a peer reads, the one place where codes and messages are chosen.
/// (Param decoding at the edge throws `RPCError` -32602 itself: a param binder's errors.)
enum BrokerError: Error, Sendable, Equatable {
    /// A request the rules bound: a method name, a size or count out of the broker's limits (-32602).
    case invalidParams(String)
    /// A client id not valid, unknown, disconnected or held by another connection (-32010).
    case client(id: String, why: String)
    /// A node id not valid, unknown, or registered by another connection (-32030).
    case node(id: String, why: String)
    /// A seed form naming no node on a connection that registered none (-32030).
    case noNodeOnConnection
    /// A task id the caller may not see: never used, or another client's (-32020).
    case unknownTask(String)
    /// A node speaking of a task it does not hold (-32020).
    case notAssigned(taskID: String, nodeID: String)
    /// A task id a client chose that is not a valid id (-32020).
    case invalidTaskID(String)
    /// A task id a client chose that names a task already (-32020).
    case taskIDTaken(String)
    /// A report on a task already complete (-32020).
    case taskComplete(String)
    /// A queue, the params budget or the parked waits at their cap; the text says which (-32070).
    case queueFull(String)
    /// A method no node serves because a node has its plugin quarantined (-32601, with the
    /// reason): `entry` is what that node said of it, `{name, reason, plugin?, file?}`.
    case methodUnavailable(method: String, nodeID: String, entry: JSONValue)

    /// The JSON-RPC error a peer reads (inside the broker's ids; `Tenancy.outside` takes the
    /// caller's tenant prefix off).
    var rpcError: RPCError {
        switch self {
        case .invalidParams(let message): return .invalidParams(message)
        case .client(let id, let why): return RPCError(.invalidClientID, "client \"\(id)\": \(why)")
        case .node(let id, let why): return RPCError(.invalidNodeID, "node \"\(id)\": \(why)")
        case .noNodeOnConnection:
            return RPCError(.invalidNodeID, "no node is connected on this connection (call node_connect first)")
        case .unknownTask(let id): return RPCError(.invalidTaskID, "unknown task \"\(id)\"")
        case .notAssigned(let taskID, let nodeID): return RPCError(.invalidTaskID, "task \"\(taskID)\" is not assigned to node \(nodeID)")
        case .invalidTaskID(let id): return RPCError(.invalidTaskID, "task id \"\(id)\" is not a valid id")
        case .taskIDTaken(let id): return RPCError(.invalidTaskID, "task id \"\(id)\" is taken")
        case .taskComplete(let id): return RPCError(.invalidTaskID, "task \"\(id)\" is already complete")
        case .queueFull(let message): return RPCError(.queueFull, message)
        case .methodUnavailable(let method, let nodeID, let entry):
            let plugin = entry["plugin"]?.stringValue.map { "plugin \"\($0)\"" } ?? "its plugin"
            let reason = entry["reason"]?.stringValue ?? "?"
            var data: JSONObject = ["method": .string(method), "node_id": .string(nodeID), "reason": .string(reason)]
            if let p = entry["plugin"] { data["plugin"] = p }
            if let f = entry["file"] { data["file"] = f }
            return RPCError(.methodNotFound,
                "method \(method) is unavailable: \(plugin) is not loaded on node \(nodeID) (quarantined: \(reason))", data: .object(data))
        }
    }
}
