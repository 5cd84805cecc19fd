#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol

/// A node: a pool of worker processes serving the plugins folder, and a session with a broker.
///
/// Everything runs on one thread of its own: a poll loop over the broker socket, the
/// notification socket, every worker's control channel and output pipes, and a wake-up pipe
/// (stop requests, signals). No locks, no hops between threads on the way of a task.
public final class NodeService: @unchecked Sendable {
    public let config: NodeConfig
    public let logger: Logger
    /// Wakes the node's loop to stop (written by `requestStop` and signal handlers).
    private let wake = WakePipe()
    private var thread: LoopThread?
    private var loop: NodeLoop?

    private let context: ZMQContext
    private let broker: EmbeddedBroker?

    /// - Parameters:
    ///   - context: the libzmq context for the node's sockets.
    ///   - broker: a built-in broker (`BrokerService.startEmbedded()`) for the node's thread to
    ///     serve in its own poll loop; the node closes it when it stops.
    public init(config: NodeConfig, logger: Logger = Logger(label: "zerotask.node"), context: ZMQContext = ZMQContext(),
                broker: EmbeddedBroker? = nil) {
        self.context = context
        self.broker = broker
        self.config = config
        self.logger = logger
    }

    /// The node's id, once started.
    public var nodeID: String { loop?.nodeID ?? config.nodeID ?? "" }

    /// The descriptor whose write asks the node to drain and stop (safe from a signal handler).
    public var stopDescriptor: Int32 { wake.writeFD }

    /// Starts the workers and the broker session on a thread of its own.
    ///
    /// - Throws: `NodeStartError.pluginsFolderMissing` when the plugins folder is not a folder
    ///   (a typo would otherwise give a node that serves nothing and says nothing).
    public func start() throws {
        signal(SIGPIPE, SIG_IGN)
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
    public func requestStop() { wake.signal() }

    /// Blocks until the node has stopped.
    public func wait() {
        thread?.wait()
        thread = nil
    }

    /// Runs until stopped (by `requestStop`, a signal written to `stopDescriptor`, or
    /// cancellation of the surrounding task).
    public func run() async throws {
        try start()
        guard let thread else { return }
        await withTaskCancellationHandler {
            await thread.ended()
        } onCancel: {
            self.requestStop()
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

    public var description: String {
        switch self {
        case .pluginsFolderMissing(let path):
            "plugins folder \(path) does not exist or is not a folder (pass --plugins DIR or set node.plugins)"
        }
    }
}
