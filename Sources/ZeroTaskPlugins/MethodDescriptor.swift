import ZeroTaskProtocol

/// What a node advertises about one method: its signature, doc and default timeout.
public struct MethodDescriptor: Sendable, Equatable {
    public var name: String
    /// The name of the plugin that provides it.
    public var plugin: String
    public var abi: MethodABI
    /// The params a caller passes, in positional order (`context` params are not among them).
    public var params: [ParamSpec]
    /// The result's type name: a `ValueType`, or `json` for JSON methods.
    public var returns: String
    public var doc: String?
    /// The manifest's default deadline in seconds.
    public var timeout: Double?
    /// The sandbox limits the manifest declares for it (the node fills in and caps the rest).
    public var limits: SandboxLimits
    /// Retries, concurrency and rate the manifest declares for it (the broker's configuration
    /// may override them).
    public var policy: MethodPolicy

    public init(_ m: MethodManifest, plugin: String) {
        name = m.name
        self.plugin = plugin
        abi = m.abi
        params = m.params.filter { $0.type != .context }
        returns = m.abi == .json ? "json" : m.returns.type.rawValue
        doc = m.doc
        timeout = m.timeout
        limits = m.limits
        policy = m.policy
    }

    /// `math.add(a: int64, b: int64) -> int64`
    public var signature: String {
        "\(name)(" + params.map { "\($0.name): \($0.typeName)" }.joined(separator: ", ") + ") -> \(returns)"
    }

    /// The description sent to the broker with `node_connect`/`node_advertise`:
    /// `{"name", "plugin", "abi", "params": [{"name", "type"}], "returns", "doc"?, "timeout"?,
    /// "retry"?, "concurrency"?, "rate"?}`.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("name", .string(name))
        o.append("plugin", .string(plugin))
        o.append("abi", .string(abi.rawValue))
        o.append("params", .array(params.map { .object(["name": .string($0.name), "type": .string($0.typeName)]) }))
        o.append("returns", .string(returns))
        if let doc { o.append("doc", .string(doc)) }
        if let timeout { o.append("timeout", .double(timeout)) }
        policy.write(into: &o)
        return .object(o)
    }
}
