#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Logging
import ZeroTaskBroker
import ZeroTaskNode
import ZeroTaskProtocol

/// The descriptor a signal handler writes to (set once before handlers are installed).
nonisolated(unsafe) var stopSignalFD: Int32 = -1

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a node: a worker pool serving the plugins, with a built-in or remote broker.")

    @Option(help: "`builtin` to run a broker inside this node, or a broker's request endpoint (tcp://HOST:5555).")
    var broker = "builtin"
    @Option(help: "The plugins folder.")
    var plugins = "Plugins"
    @Option(help: "Worker processes (default: the number of cores).")
    var workers: Int?
    @Option(name: .customLong("node-id"), help: "This node's id (default: HOSTNAME-PID).")
    var nodeID: String?
    @Option(name: .customLong("default-timeout"), help: "Seconds a task may run when neither client nor manifest says.")
    var defaultTimeout: Double = 300
    @Option(name: .customLong("max-timeout"), help: "No task runs longer than this many seconds.")
    var maxTimeout: Double = 3600
    @Option(name: .customLong("max-tasks-per-worker"), help: "Replace a worker after this many tasks (0: never).")
    var maxTasksPerWorker = 0
    @Option(name: .customLong("max-worker-memory"), help: "Replace a worker above this many MiB resident (0: no limit).")
    var maxWorkerMemoryMiB = 0
    @Option(name: .customLong("drain-grace"), help: "Seconds running tasks get to finish on SIGTERM.")
    var drainGrace: Double = 30
    @Option(name: .customLong("broker-publish"), help: "The remote broker's publish endpoint (default: its port + 1).")
    var brokerPublish: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @OptionGroup(title: "Built-in broker") var builtin: BrokerOptions

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        var config = NodeConfig()
        config.pluginsDir = plugins
        config.workers = workers ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        config.nodeID = nodeID
        config.defaultTimeout = defaultTimeout
        config.maxTimeout = maxTimeout
        config.maxTasksPerWorker = maxTasksPerWorker
        config.maxWorkerMemory = maxWorkerMemoryMiB * 1_048_576
        config.drainGrace = drainGrace

        var brokerService: BrokerService?
        if broker == "builtin" {
            let service = BrokerService(config: builtin.config, request: builtin.request, publish: builtin.publish,
                logger: Logger(label: "zerotask.broker"))
            try service.start()
            brokerService = service
            config.broker = Self.loopback(service.boundRequestEndpoint)
            config.publish = Self.loopback(service.boundPublishEndpoint)
        } else {
            config.broker = broker
            config.publish = brokerPublish
        }
        let node = NodeService(config: config)
        stopSignalFD = node.stopDescriptor
        for sig in [SIGTERM, SIGINT] {
            signal(sig) { _ in
                var b: UInt8 = 1
                _ = write(stopSignalFD, &b, 1)
            }
        }
        try node.start()
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread {
                node.wait()
                c.resume()
            }.start()
        }
        brokerService?.stop()
    }

    /// A bound endpoint (`tcp://0.0.0.0:5555`) as this host connects to it.
    static func loopback(_ endpoint: String) -> String {
        endpoint.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1").replacingOccurrences(of: "//*:", with: "//127.0.0.1:")
            .replacingOccurrences(of: "[::]", with: "127.0.0.1")
    }
}

/// A worker process; started by a node only.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "A node's worker process (internal).",
        shouldDisplay: false)

    @Option var plugins: String
    @Option(name: .customLong("worker-id")) var workerID: Int
    @Option(name: .customLong("max-result-bytes")) var maxResultBytes: Int = 1 << 20
    @Option(name: .customLong("plugin-config")) var pluginConfig: String = "{}"

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "zerotask.worker")
        logger.logLevel = .warning
        var config: [String: JSONValue] = [:]
        if let o = (try? JSONValue.parse(pluginConfig))?.objectValue {
            for m in o.members { config[m.key] = m.value }
        }
        WorkerMain.run(pluginsDir: plugins, pluginConfig: config, maxResultBytes: maxResultBytes, logger: logger)
    }
}
