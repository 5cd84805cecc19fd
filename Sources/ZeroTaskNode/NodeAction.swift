import ZeroTaskProtocol

/// What the node's state machine asks its loop to do. The loop does it and feeds back what
/// happened as events (a spawn that failed, a channel that broke, a worker that exited).
enum NodeAction {
    /// A request to the broker (an id: a reply comes back as `brokerReplied`), or a
    /// notification (no id). Typed: the loop encodes it for a remote broker, and hands it as it
    /// is to a built-in one.
    case send(NodeRequest, id: Int64?)
    /// Start a worker process for `spec`; report the outcome with `workerSpawned`.
    case spawn(WorkerSpec)
    /// Write these messages to a worker's control channel, in order, in one write. If the
    /// channel is broken, report the tasks among them with `tasksUndelivered`.
    case write(worker: Int, [WorkerMessage])
    /// Cancel a task the worker holds: on the urgent channel (read even during a native call),
    /// and on the control channel behind the task's own frame.
    case cancel(worker: Int, task: String)
    /// Kill the worker's process group now and forget the process: the machine has already.
    case kill(worker: Int)
    /// Fail over: close the sockets to the broker in use and connect to broker `index` of
    /// `NodeConfig.brokers` (its request and publish endpoints); requests follow there.
    case useBroker(index: Int)
}
