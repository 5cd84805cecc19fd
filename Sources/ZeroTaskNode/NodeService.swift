#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskSystem

/// A node: a pool of worker processes serving the plugins folder, and a session with a broker.
///
/// Everything runs on one thread of its own: a poll loop over the broker socket, the
/// notification socket, every worker's control channel and output pipes, and a wake-up pipe
/// (stop requests). No locks, no hops between threads on the way of a task.
///
/// Run by `serve()`; a `Service` for a `ServiceGroup` through ZeroTaskLifecycle, where graceful
/// shutdown drains (no new tasks, running ones get the drain grace) and cancellation stops at
/// once (running tasks are handed back to the broker).
public final class NodeService: @unchecked Sendable {
    public let config: NodeConfig
    public let logger: Logger
    /// Wakes the node's loop to stop: `NodeLoop.drainSignal` or `NodeLoop.hardStopSignal`.
    private let wake = WakePipe()
    private var thread: LoopThread?
    private var loop: NodeLoop?

    private let context: ZMQContext
    private let broker: (any BuiltInBroker)?

    /// - Parameters:
    ///   - context: the libzmq context for the node's sockets.
    ///   - broker: a built-in broker for the node's thread to serve in its own poll loop (the
    ///     executable gives `BrokerService.startEmbedded()`); the node finishes it when it stops.
    public init(config: NodeConfig, logger: Logger = Logger(label: "zerotask.node"), context: ZMQContext = ZMQContext(),
                broker: (any BuiltInBroker)? = nil) {
        self.context = context
        self.broker = broker
        self.config = config
        self.logger = logger
    }

    /// The node's id, once started.
    public var nodeID: String { loop?.nodeID ?? config.nodeID ?? "" }

    /// Starts the workers and the broker session on a thread of its own.
    ///
    /// - Throws: `NodeStartError.pluginsFolderMissing` when the plugins folder is not a folder
    ///   (a typo would otherwise give a node that serves nothing and says nothing);
    ///   `NodeStartError.sandboxMissing` when `node.require_sandbox` is on and the kernel lacks
    ///   a sandbox mechanism.
    /// The process must ignore SIGPIPE (the executable does): a worker that dies while the node
    /// writes to it must not end the node.
    public func start() throws {
        let loop: NodeLoop
        do {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: config.pluginsDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw NodeStartError.pluginsFolderMissing(config.pluginsDir)
            }
            loop = try NodeLoop(config: config, logger: logger, wake: wake, context: context, broker: broker)
        } catch {
            broker?.finish()
            throw error
        }
        self.loop = loop
        thread = LoopThread(name: "zerotask-node") { loop.run() }
    }

    /// Asks the node to stop: no new tasks, running ones finish within the drain grace, then it
    /// disconnects. Returns at once; `wait()` for the end.
    public func requestStop() { wake.signal(NodeLoop.drainSignal) }

    /// Asks the node to stop now: running tasks are killed and handed back to the broker with
    /// the disconnect. Returns at once; `wait()` for the end.
    public func requestHardStop() { wake.signal(NodeLoop.hardStopSignal) }

    /// Blocks until the node has stopped.
    public func wait() {
        thread?.wait()
        thread = nil
    }

    /// Runs until stopped: `requestStop` (a `ServiceGroup`'s graceful shutdown, through
    /// ZeroTaskLifecycle) drains; cancellation of the surrounding task stops at once.
    public func serve() async throws {
        try start()
        guard let thread else { return }
        // The handler only wakes the node's thread, which does the draining and killing.
        await withTaskCancellationHandler {
            await thread.ended()
        } onCancel: {
            self.requestHardStop()
        }
    }

    deinit {
        if thread != nil {
            requestStop()
            wait()
        }
    }
}

/// Why a node did not start.
public enum NodeStartError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The plugins folder does not exist or is not a folder.
    case pluginsFolderMissing(String)
    /// `node.require_sandbox` is on and these sandbox mechanisms are missing.
    case sandboxMissing([String])

    public var description: String {
        switch self {
        case .pluginsFolderMissing(let path):
            "plugins folder \(path) does not exist or is not a folder (pass --plugins DIR or set node.plugins)"
        case .sandboxMissing(let mechanisms):
            "node.require_sandbox is on, but this kernel lacks: \(mechanisms.joined(separator: ", ")) (see the log lines above, or set node.require_sandbox: false)"
        }
    }
}
