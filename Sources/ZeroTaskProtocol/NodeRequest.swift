/// One request or notification a ZeroTask node sends its broker, typed: what the node's state
/// machine emits. A remote broker gets it as JSON-RPC (`method` and `params`, the one codec); a
/// built-in broker (`zerotask node --broker builtin`) takes it as it is, with no JSON params
/// built or read between the two halves of one process.
public enum NodeRequest: Sendable, Equatable {
    /// `node_connect`: registers, saying what the node serves.
    case connect(NodeAdvertisement)
    /// `node_advertise`: what the node serves changed (a plugin reload, a quarantine).
    case advertise(NodeAdvertisement)
    /// `node_heartbeat`.
    case heartbeat(nodeID: String)
    /// `node_disconnect`: the node stops; what it still holds goes back to the queue.
    case disconnect(nodeID: String)
    /// `node_task_pull`: the outcomes in `done` first, then up to `max` tasks, waiting up to
    /// `wait` seconds for one.
    case pull(nodeID: String, max: Int, wait: Double, done: [Outcome])
    /// `node_tasks_done`: outcomes without a pull.
    case tasksDone(nodeID: String, [Outcome])
    /// `node_task_release`: tasks held and not started go back to the queue.
    case release(nodeID: String, taskIDs: [String])
    /// `node_check_tasks`: the tasks the node holds (`complete`: all of them).
    case checkTasks(nodeID: String, taskIDs: [String], complete: Bool)
    /// `task_status` (a notification): a task runs, with its progress (0...1) and a message
    /// when the plugin gave them.
    case taskStatus(nodeID: String, taskID: String, status: TaskStatus, progress: Double? = nil, message: String? = nil)
    /// `node_status`: the node's counters and timings (`status`, as the node keeps them), and
    /// its process id.
    case nodeStatus(nodeID: String, processID: Int, status: JSONObject)

    /// A node's outcome of one task: on the wire `{"id", "result"}` or `{"id", "error"}`.
    public struct Outcome: Sendable, Equatable {
        public var taskID: String
        public var outcome: Result<JSONValue, RPCError>

        public init(taskID: String, outcome: Result<JSONValue, RPCError>) {
            self.taskID = taskID
            self.outcome = outcome
        }

        public var json: JSONValue {
            var o = JSONObject()
            o.append("id", .string(taskID))
            switch outcome {
            case .success(let r): o.append("result", r)
            case .failure(let e): o.append("error", e.json)
            }
            return .object(o)
        }
    }

    /// The method it calls.
    public var method: BrokerMethod {
        switch self {
        case .connect: .nodeConnect
        case .advertise: .nodeAdvertise
        case .heartbeat: .nodeHeartbeat
        case .disconnect: .nodeDisconnect
        case .pull: .nodeTaskPull
        case .tasksDone: .nodeTasksDone
        case .release: .nodeTaskRelease
        case .checkTasks: .nodeCheckTasks
        case .taskStatus: .taskStatus
        case .nodeStatus: .nodeStatus
        }
    }

    /// The JSON-RPC params, as docs/PROTOCOL.md gives them (and seed brokers read them): the
    /// node id first, by position where the seed spec has it so, otherwise by name; an optional
    /// param only when it says something.
    public var params: Params {
        switch self {
        case .connect(let a), .advertise(let a):
            return .named(a.json)
        case .heartbeat(let id), .disconnect(let id):
            return .positional([.string(id)])
        case .pull(let id, let max, let wait, let done):
            var o: JSONObject = ["node_id": .string(id), "max": .int(Int64(max)), "wait": .double(wait)]
            if !done.isEmpty { o.append("done", .array(done.map(\.json))) }
            return .named(o)
        case .tasksDone(let id, let done):
            return .positional([.string(id), .array(done.map(\.json))])
        case .release(let id, let tasks):
            return .positional([.string(id), .array(tasks.map { .string($0) })])
        case .checkTasks(let id, let tasks, let complete):
            return .named(["node_id": .string(id), "task_ids": .array(tasks.map { .string($0) }), "complete": .bool(complete)])
        case .taskStatus(let id, let task, let status, let progress, let message):
            var o: JSONObject = ["node_id": .string(id), "task_id": .string(task), "status": .int(status.rawValue)]
            if let progress { o.append("progress", .double(progress)) }
            if let message { o.append("message", .string(message)) }
            return .named(o)
        case .nodeStatus(let id, let pid, let status):
            var o = status
            o.append("node_id", .string(id))
            o.append("pid", .int(Int64(pid)))
            return .named(o)
        }
    }
}

/// What `node_connect` and `node_advertise` say about a node.
public struct NodeAdvertisement: Sendable, Equatable {
    public var nodeID: String
    /// The methods served: names or descriptions (`{"name", "params", "limits", "retry", …}`).
    public var methods: [JSONValue]
    public var workers: Int
    /// How many tasks the broker may hand the node at once.
    public var capacity: Int
    /// Methods of quarantined plugins, each `{"name", "reason", "plugin"?, "file"?}`.
    public var unavailable: [JSONValue]
    public var tags: [String]

    public init(nodeID: String, methods: [JSONValue], workers: Int, capacity: Int, unavailable: [JSONValue] = [], tags: [String] = []) {
        self.nodeID = nodeID
        self.methods = methods
        self.workers = workers
        self.capacity = capacity
        self.unavailable = unavailable
        self.tags = tags
    }

    /// The named params. `unavailable` and `tags` only when there are some: a broker that
    /// predates them would refuse an unknown param.
    public var json: JSONObject {
        var o: JSONObject = ["node_id": .string(nodeID), "methods": .array(methods), "workers": .int(Int64(workers)),
                             "capacity": .int(Int64(capacity))]
        if !unavailable.isEmpty { o.append("unavailable", .array(unavailable)) }
        if !tags.isEmpty { o.append("tags", .array(tags.map { .string($0) })) }
        return o
    }
}
