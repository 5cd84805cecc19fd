import ZeroTaskProtocol

/// What the broker's rules answer a request with, as a value. The rules decide it; its JSON is
/// written once, at the edge (`json`, below: the only place a reply becomes JSON), by whoever
/// sends it — the socket loop, a batch, the monitor's inbox, the built-in broker's node.
public enum BrokerReply: Sendable, Equatable {
    /// Done, nothing more to say (`true`): disconnects, heartbeats, advertisements, status
    /// updates, reports.
    case accepted
    /// Whether it happened (`client_cancel_task`: `false` when the task had completed already).
    case flag(Bool)
    /// An id as the caller names it: a client's (out of its tenant), a node's, a task's or a
    /// workflow's.
    case id(String)
    /// How many (`node_task_release`: the tasks handed back).
    case count(Int)
    /// A task's status (`client_task_status`: its code).
    case status(TaskStatus)
    /// A finished task's result (`client_task_result`): the user's own value, JSON by nature.
    case value(JSONValue)
    /// A seed node's claim (`node_task_request`): the assignment, or nil (`{}`) when the task is
    /// no longer available.
    case claimed(TaskAssignment?)
    /// Work for a node (`node_task_pull`), best first; `[]` when none came.
    case assignments([TaskAssignment])
    /// One task's outcome, or where it stands when the wait ended first (`client_call`).
    case entry(TaskResultEntry)
    /// The complete tasks of a wait (`client_wait_results`); `[]` when none completed in time.
    case entries([TaskResultEntry])
    /// One per entry of `client_new_tasks`, in order: the task id, or why it was refused.
    case submitted([Result<String, RPCError>])
    /// One per outcome of `node_tasks_done`, in order: nil when accepted, or why not.
    case reported([RPCError?])
    /// The ids a `node_check_tasks` named that its node should no longer run.
    case gone([String])
    /// A document made for people and dashboards, kept as the JSON it is read as: `methods`,
    /// `nodes`, `stats`, `client_task_info`, the admin pages and actions, queue control and
    /// schedules. (Their fields are many and change with the dashboard; no peer's code
    /// branches on them.)
    case document(JSONValue)
}

/// A task as a node receives it to run (`node_task_pull`, `node_task_request`).
public struct TaskAssignment: Sendable, Equatable {
    /// The task's id inside the broker (nodes have no tenant).
    public var id: String
    public var method: String
    /// The params as the client gave them.
    public var params: JSONValue
    /// Seconds the task may run; nil: the node's own limit.
    public var timeout: Double?

    public init(id: String, method: String, params: JSONValue, timeout: Double? = nil) {
        self.id = id
        self.method = method
        self.params = params
        self.timeout = timeout
    }
}

/// One task in the answer to a client's wait (`client_wait_results`, `client_call`).
public struct TaskResultEntry: Sendable, Equatable {
    /// As the client names the task (out of its tenant).
    public var taskID: String
    /// nil only for a task no longer held (its record expired while a call waited on it).
    public var status: TaskStatus?
    /// The result or the task's error; nil while the task is not complete (a `client_call`
    /// whose wait ended first).
    public var outcome: Result<JSONValue, RPCError>?

    public init(taskID: String, status: TaskStatus?, outcome: Result<JSONValue, RPCError>?) {
        self.taskID = taskID
        self.status = status
        self.outcome = outcome
    }
}

// MARK: the codec

extension BrokerReply {
    /// The reply's JSON-RPC `result`, as docs/PROTOCOL.md shows it (keys in its order).
    public var json: JSONValue {
        switch self {
        case .accepted: true
        case .flag(let b): .bool(b)
        case .id(let id): .string(id)
        case .count(let n): .int(Int64(n))
        case .status(let s): .int(s.rawValue)
        case .value(let v): v
        case .claimed(let a): a?.json ?? .object([:])
        case .assignments(let list): .array(list.map(\.json))
        case .entry(let e): e.json
        case .entries(let list): .array(list.map(\.json))
        case .submitted(let list):
            .array(list.map { r in
                switch r {
                case .success(let id): .string(id)
                case .failure(let e): e.json
                }
            })
        case .reported(let list): .array(list.map { $0?.json ?? true })
        case .gone(let ids): .array(ids.map { .string($0) })
        case .document(let d): d
        }
    }
}

extension TaskAssignment {
    /// `{"method", "params", "id"}`, plus `"timeout"` when set.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("method", .string(method))
        o.append("params", params)
        o.append("id", .string(id))
        if let timeout { o.append("timeout", .double(timeout)) }
        return .object(o)
    }
}

extension TaskResultEntry {
    /// `{"task_id", "status", "result" | "error"}`; `{"task_id", "status"}` while not complete.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("task_id", .string(taskID))
        o.append("status", status.map { .int($0.rawValue) } ?? .null)
        switch outcome {
        case .success(let r)?: o.append("result", r)
        case .failure(let e)?: o.append("error", e.json)
        case nil: break
        }
        return .object(o)
    }
}
