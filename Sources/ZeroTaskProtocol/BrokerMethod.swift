/// The broker's JSON-RPC methods: each name is written here once, for the broker, its clients,
/// its nodes and the command line. On the wire a method is `zerotask.broker.` + its name.
public enum BrokerMethod: String, Sendable, CaseIterable {
    // Clients
    case clientConnect = "client_connect"
    case clientDisconnect = "client_disconnect"
    case clientNewTask = "client_new_task"
    case clientNewTasks = "client_new_tasks"
    case clientTaskStatus = "client_task_status"
    case clientTaskResult = "client_task_result"
    case clientTaskInfo = "client_task_info"
    case clientCancelTask = "client_cancel_task"
    case clientCall = "client_call"
    case clientWaitResults = "client_wait_results"
    case clientNewWorkflow = "client_new_workflow"
    // Nodes
    case nodeConnect = "node_connect"
    case nodeHeartbeat = "node_heartbeat"
    case nodeDisconnect = "node_disconnect"
    case nodeAdvertise = "node_advertise"
    case nodeTaskRelease = "node_task_release"
    case nodeTaskRequest = "node_task_request"
    /// The seed spec's name for `nodeTaskStatus`.
    case taskStatus = "task_status"
    case nodeTaskStatus = "node_task_status"
    case nodeTaskFinished = "node_task_finished"
    case nodeTaskFailed = "node_task_failed"
    case nodeStatus = "node_status"
    case nodeTaskPull = "node_task_pull"
    case nodeTasksDone = "node_tasks_done"
    case nodeCheckTasks = "node_check_tasks"
    // Discovery
    case methods
    case nodes
    case stats
    // Operations (admins when keys are on)
    case adminTasks = "admin_tasks"
    case adminTask = "admin_task"
    case adminRetry = "admin_retry"
    case adminCancel = "admin_cancel"
    /// Pause, resume or purge a method's queue.
    case adminQueue = "admin_queue"

    /// The namespace every broker method's wire name starts with.
    public static let namespace = "zerotask.broker."

    /// The name on the wire: `zerotask.broker.NAME`.
    public var wireName: String { Self.namespace + rawValue }

    /// The method a wire name names, or nil when it is not a broker method.
    public init?(wireName: String) {
        guard wireName.hasPrefix(Self.namespace),
            let name = String(wireName.utf8.dropFirst(Self.namespace.utf8.count))
        else { return nil }
        self.init(rawValue: name)
    }

    /// The methods of the seed spec's broker (a seed-only broker answers nothing else).
    public var isSeed: Bool {
        switch self {
        case .clientConnect, .clientDisconnect, .clientNewTask, .clientTaskStatus, .clientTaskResult,
            .nodeConnect, .nodeHeartbeat, .nodeDisconnect, .nodeTaskRequest, .taskStatus, .nodeTaskStatus,
            .nodeTaskFinished, .nodeTaskFailed, .nodeStatus:
            true
        default: false
        }
    }

    /// Whether a node calls it (`node_*`, and the seed spec's `task_status`).
    public var isNodeMethod: Bool { rawValue.hasPrefix("node_") || self == .taskStatus }

    /// Whether a client calls it (`client_*`).
    public var isClientMethod: Bool { rawValue.hasPrefix("client_") }

    /// Whether it operates on every client's tasks (`admin_*`): only admins call it when keys are on.
    public var isAdminMethod: Bool { rawValue.hasPrefix("admin_") }

    /// Whether it describes the broker (`methods`, `nodes`, `stats`).
    public var isDiscovery: Bool { self == .methods || self == .nodes || self == .stats }
}
