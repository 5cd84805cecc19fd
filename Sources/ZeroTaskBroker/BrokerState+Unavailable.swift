import ZeroTaskProtocol

/// Methods a node knows but cannot serve: their plugin is quarantined there (it crashed or failed
/// while loading). A submission for such a method, while no node serves it, is refused with the
/// reason, instead of waiting in a queue that no node will ever take from.
extension BrokerState {
    /// Reads an `unavailable` param: `[{"name": METHOD, "reason": TEXT, "plugin"?, "file"?}]`.
    static func unavailableMethods(_ list: [JSONValue], _ method: String) throws(RPCError) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (i, entry) in list.enumerated() {
            guard let name = entry["name"]?.stringValue, entry["reason"]?.stringValue != nil else {
                throw .invalidParams("\(method): unavailable[\(i)] must be an object with string \"name\" and \"reason\"")
            }
            guard Identifier.isValidMethodName(name), !Identifier.isReservedMethodName(name) else {
                throw .invalidParams("\(method): unavailable[\(i)]: \"\(name)\" is not a valid method name")
            }
            out[name] = entry
        }
        return out
    }

    /// Replaces what `node` says it cannot serve, and the index the submission check reads.
    mutating func setUnavailable(_ methods: [String: JSONValue], node id: String) {
        let old = nodes[id]?.unavailable ?? [:]
        for name in old.keys where methods[name] == nil {
            unavailableIndex[name]?.remove(id)
            if unavailableIndex[name]?.isEmpty == true { unavailableIndex[name] = nil }
        }
        for name in methods.keys { unavailableIndex[name, default: []].insert(id) }
        // Told once per plugin newly quarantined on this node, not on every re-advertisement.
        let fresh = Set(methods.filter { old[$0.key] == nil }.compactMap { Self.quarantineLine($0.value) })
        if nodes[id] != nil, !fresh.isEmpty { events.append(.pluginsQuarantined(nodeID: id, reasons: fresh.sorted())) }
        nodes.update(id) { $0.unavailable = methods }
    }

    /// Why `method` cannot run: some node has it quarantined and none serves it; nil otherwise
    /// (one lookup in an index that is empty unless a plugin is quarantined somewhere).
    func unavailableError(_ method: String) -> BrokerError? {
        guard let holders = unavailableIndex[method], let first = holders.min(),
            let entry = nodes[first]?.unavailable[method],
            !nodes.all.contains(where: { $0.methods[method] != nil })
        else { return nil }
        return .methodUnavailable(method: method, nodeID: first, entry: entry)
    }

    /// "FILE: REASON" (or the plugin's name) of one unavailable method's description.
    static func quarantineLine(_ d: JSONValue) -> String? {
        let o = d.objectValue
        guard let what = o?["file"]?.stringValue ?? o?["plugin"]?.stringValue else { return nil }
        return what + ": " + (o?["reason"]?.stringValue ?? "not loaded")
    }
}
