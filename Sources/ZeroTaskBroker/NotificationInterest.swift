/// Which notifications anybody subscribed to, so the broker neither builds nor sends the rest.
///
/// The publish socket is an XPUB that reports every subscribe and unsubscribe; the broker keeps
/// a count per prefix and derives these flags. A subscription matches a kind of notification
/// when one is a prefix of the other: `""` and `{"method":"zerotask.` want everything, a
/// per-method `broker_new_task` prefix wants new tasks.
public struct NotificationInterest: Sendable, Equatable {
    public var newTask: Bool
    public var resultReady: Bool
    public var cancelTask: Bool
    public var nodeStatus: Bool
    /// New tasks under the original prototype's name, `zerotask.node.task_ready`: its nodes
    /// listen for nothing else. Off unless a subscription covers that name, so ZeroTask's own
    /// peers pay nothing for it.
    public var taskReady: Bool

    public init(newTask: Bool, resultReady: Bool, cancelTask: Bool, nodeStatus: Bool, taskReady: Bool = false) {
        self.newTask = newTask
        self.resultReady = resultReady
        self.cancelTask = cancelTask
        self.nodeStatus = nodeStatus
        self.taskReady = taskReady
    }

    /// Everything published (a state machine used without a publish socket, as in tests).
    public static let all = NotificationInterest(newTask: true, resultReady: true, cancelTask: true, nodeStatus: true, taskReady: true)
    public static let none = NotificationInterest(newTask: false, resultReady: false, cancelTask: false, nodeStatus: false)

    /// The interest of a set of subscription prefixes.
    public init(subscriptions: some Sequence<[UInt8]>) {
        self = .none
        func head(_ method: String) -> [UInt8] { Array("{\"method\":\"\(method)\"".utf8) }
        let kinds = [
            head(Notifications.newTaskMethod), head(Notifications.resultReadyMethod),
            head(Notifications.cancelTaskMethod), head(Notifications.nodeStatusMethod),
            head(Notifications.taskReadyMethod),
        ]
        for sub in subscriptions {
            let wants = kinds.map { kind in sub.starts(with: kind) || kind.starts(with: sub) }
            newTask = newTask || wants[0]
            resultReady = resultReady || wants[1]
            cancelTask = cancelTask || wants[2]
            nodeStatus = nodeStatus || wants[3]
            taskReady = taskReady || wants[4]
        }
    }
}
