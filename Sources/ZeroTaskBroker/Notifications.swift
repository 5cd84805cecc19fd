import ZeroTaskProtocol

/// The notifications the broker publishes, written compactly with keys in exactly the order
/// PROTOCOL.md gives, so that subscribers can filter by ZeroMQ prefix.
public enum Notifications {
    public static let newTaskMethod = "zerotask.node.broker_new_task"
    public static let nodeStatusMethod = "zerotask.node.broker_node_status"
    public static let resultReadyMethod = "zerotask.client.task_result_ready"
    public static let cancelTaskMethod = "zerotask.node.task_cancel"
    /// The original prototype's name for a new task (its nodes hear only this one).
    public static let taskReadyMethod = "zerotask.node.task_ready"

    /// The subscription prefix for new tasks of one method.
    public static func newTaskPrefix(method: String) -> String {
        "{\"method\":\"\(newTaskMethod)\",\"params\":{\"method\":\(JSONValue.string(method).jsonString),"
    }

    /// The subscription prefix for results of one client's tasks.
    public static func resultReadyPrefix(clientID: String) -> String {
        "{\"method\":\"\(resultReadyMethod)\",\"params\":{\"task_id\":\"\(clientID)-"
    }

    static func notification(_ method: String, _ params: JSONObject) -> [UInt8] {
        var o = JSONObject()
        o.append("method", .string(method))
        o.append("params", .object(params))
        o.append("jsonrpc", "2.0")
        return JSONValue.object(o).jsonBytes
    }

    public static func newTask(method: String, taskID: String) -> [UInt8] {
        notification(newTaskMethod, ["method": .string(method), "task_id": .string(taskID)])
    }

    /// The same news as `newTask`, under the prototype's name and with the same params.
    public static func taskReady(method: String, taskID: String) -> [UInt8] {
        notification(taskReadyMethod, ["method": .string(method), "task_id": .string(taskID)])
    }

    public static func resultReady(taskID: String) -> [UInt8] {
        notification(resultReadyMethod, ["task_id": .string(taskID)])
    }

    public static func nodeStatusRequest() -> [UInt8] { notification(nodeStatusMethod, [:]) }

    public static func cancelTask(nodeID: String, taskID: String) -> [UInt8] {
        notification(cancelTaskMethod, ["node_id": .string(nodeID), "task_id": .string(taskID)])
    }
}

extension BrokerNotification {
    /// The notification as published: the one place its JSON is written.
    public var bytes: [UInt8] {
        switch self {
        case .newTask(let method, let taskID): Notifications.newTask(method: method, taskID: taskID)
        case .taskReady(let method, let taskID): Notifications.taskReady(method: method, taskID: taskID)
        case .resultReady(let taskID): Notifications.resultReady(taskID: taskID)
        case .nodeStatusRequest: Notifications.nodeStatusRequest()
        case .cancelTask(let nodeID, let taskID): Notifications.cancelTask(nodeID: nodeID, taskID: taskID)
        }
    }
}
