import ZeroTaskProtocol

extension BrokerCommand {
    /// The command a request of the node in this process means (a built-in broker's node): its
    /// typed fields mapped as they are, no JSON params built nor read. The same command as
    /// `BrokerCommand(request.method, request.params)` (`NodeRequestPathTests`).
    ///
    /// Only what a node advertises is checked, by the rules the wire decoder uses (method names
    /// and descriptions, quarantined methods, tags), since plugins' manifests and settings put
    /// it there.
    /// - Throws: -32602 naming the method and the parameter, as the wire decoder does.
    init(_ request: NodeRequest) throws(RPCError) {
        let name = request.method.rawValue
        switch request {
        case .connect(let a):
            self = .nodeConnect(nodeID: a.nodeID, methods: a.methods, workers: a.workers, capacity: a.capacity,
                unavailable: try BrokerState.unavailableMethods(a.unavailable, name), tags: try Self.nodeTags(a.tags, name))
        case .advertise(let a):
            let methods: [String: JSONValue]
            do throws(BrokerError) { methods = try BrokerState.methodDescriptions(a.methods) } catch { throw error.rpcError }
            self = .advertise(nodeID: a.nodeID, methods: methods, workers: a.workers, capacity: a.capacity,
                unavailable: try BrokerState.unavailableMethods(a.unavailable, name), tags: try Self.nodeTags(a.tags, name))
        case .heartbeat(let id):
            self = .heartbeat(nodeID: id)
        case .disconnect(let id):
            self = .nodeDisconnect(nodeID: id)
        case .pull(let id, let max, let wait, let done):
            self = .pull(nodeID: id, max: max, wait: wait, done: done)
        case .tasksDone(let id, let done):
            self = .reportMany(nodeID: id, done)
        case .release(let id, let tasks):
            self = .release(nodeID: id, taskIDs: tasks)
        case .checkTasks(let id, let tasks, let complete):
            self = .checkTasks(nodeID: id, taskIDs: tasks, complete: complete)
        case .taskStatus(let id, let task, let status, let progress, let message):
            var fields = JSONObject()
            if let progress { fields.append("progress", .double(progress)) }
            if let message { fields.append("message", .string(message)) }
            self = .taskStatus(nodeID: id, taskID: task, status: status, fields: fields)
        case .nodeStatus(let id, let pid, let status):
            var fields = status
            fields.append("pid", .int(Int64(pid)))
            self = .nodeStatus(nodeID: id, fields: fields)
        }
    }

    /// A node's tags as the wire decoder keeps them: nil when there are none (the param is left
    /// out then), else checked, sorted, without repeats.
    private static func nodeTags(_ tags: [String], _ name: String) throws(RPCError) -> [String]? {
        guard !tags.isEmpty else { return nil }
        do throws(PolicyError) {
            return try Tags.normalized(tags, field: "\(name): param \"tags\"")
        } catch {
            throw .invalidParams(error.description)
        }
    }
}
