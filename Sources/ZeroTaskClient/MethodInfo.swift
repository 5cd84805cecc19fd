import ZeroTaskProtocol

/// One method the broker knows (`zerotask.broker.methods`): its advertised description, the
/// nodes serving it and its queue.
public struct MethodInfo: Sendable, Equatable {
    /// One parameter of an advertised signature.
    public struct Param: Sendable, Equatable {
        /// The param's name, as a call by name gives it.
        public var name: String
        /// Its advertised type: a C type (`int64`, `string`, …) or a JSON kind (`array`, `json`, …).
        public var type: String
    }

    /// The method's name, e.g. `math.add`.
    public var name: String
    /// The advertised params, in positional order; nil when the node did not describe them.
    public var params: [Param]?
    /// The advertised result type (`int64`, `string`, `json`, …); nil when not described.
    public var returns: String?
    /// The one-line description its manifest gives.
    public var doc: String?
    /// The plugin ABI, `c` or `json`, when advertised.
    public var abi: String?
    /// Nodes advertising the method; empty when tasks are queued for it but no node serves it.
    public var nodes: [String]
    /// The broker's `"*"` entry: `nodes` are seed nodes (registered without a methods list),
    /// which serve any method.
    public var servesAny: Bool
    /// Seed nodes dropped for silence: their next request registers them again.
    public var silentNodes: [String]
    /// Tasks waiting in its queue.
    public var queued: Int
    /// Tasks assigned to nodes right now.
    public var running: Int
    /// The whole object as the broker sent it.
    public var json: JSONValue

    /// Reads one entry of the broker's `methods` answer; nil when it has no name.
    public init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue else { return nil }
        self.name = name
        if let list = json["params"]?.arrayValue {
            params = list.map { p in
                if let s = p.stringValue { return Param(name: s, type: "any") }
                return Param(name: p["name"]?.stringValue ?? "_", type: p["type"]?.stringValue ?? "any")
            }
        }
        // A returns field is a type name, or {"type": …, "free": …} as in manifests.
        returns = json["returns"]?.stringValue ?? json["returns"]?["type"]?.stringValue
        doc = json["doc"]?.stringValue
        abi = json["abi"]?.stringValue
        nodes = (json["nodes"]?.arrayValue ?? []).compactMap(\.stringValue)
        servesAny = json["serves_any"]?.boolValue ?? false
        silentNodes = (json["silent_nodes"]?.arrayValue ?? []).compactMap(\.stringValue)
        queued = Int(json["queued"]?.int64Value ?? 0)
        running = Int(json["running"]?.int64Value ?? 0)
        self.json = json
    }

    /// A seed node can take any method: one is connected, or only dropped for silence.
    var seedNodeAvailable: Bool { servesAny && !(nodes.isEmpty && silentNodes.isEmpty) }

    /// `(a: int64, b: int64) -> int64`; `(…) -> json` for a JSON method without described
    /// params; `?` when the node advertised only the name.
    public var signature: String {
        guard params != nil || returns != nil || abi != nil else { return "?" }
        let args: String
        if let params {
            args = params.map { "\($0.name): \($0.type)" }.joined(separator: ", ")
        } else {
            args = "…"
        }
        let shownArgs = abi == "json" && (params?.isEmpty ?? true) ? "…" : args
        return "(\(shownArgs)) -> \(returns ?? "?")"
    }
}

/// One node connected to the broker (`zerotask.broker.nodes`).
public struct NodeInfo: Sendable, Equatable {
    /// The node's id, as it registered.
    public var nodeID: String
    /// The methods it advertises.
    public var methods: [String]
    /// A seed node (registered without a methods list): it serves any method it claims.
    public var servesAny: Bool
    /// Declared worker processes; 0 when the node did not say.
    public var workers: Int
    /// Tasks assigned to it right now.
    public var assigned: Int
    /// Seconds since the broker last heard from it.
    public var lastSeen: Double
    /// The last `node_status` fields it reported.
    public var status: JSONObject?
    /// The whole object as the broker sent it.
    public var json: JSONValue

    /// Reads one entry of the broker's `nodes` answer; nil when it has no node id.
    public init?(json: JSONValue) {
        guard let id = json["node_id"]?.stringValue else { return nil }
        nodeID = id
        methods = (json["methods"]?.arrayValue ?? []).compactMap(\.stringValue)
        servesAny = json["serves_any"]?.boolValue ?? false
        workers = Int(json["workers"]?.int64Value ?? 0)
        assigned = Int(json["assigned"]?.int64Value ?? 0)
        lastSeen = json["last_seen"]?.doubleValue ?? 0
        status = json["status"]?.objectValue
        self.json = json
    }
}
