#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Logging
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskLifecycle
import ZeroTaskNode
import ZeroTaskProtocol

struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a node: a worker pool serving the plugins, with a built-in or remote broker.")

    @Option(help: "`builtin` to run a broker inside this node, or a broker's request endpoint (tcp://HOST:5555), or several separated by commas to fail over between (tcp://a:5555,tcp://b:5555). [\(Settings.Defaults.nodeBroker)]")
    var broker: String?
    @Option(help: "The plugins folder. [\(NodeConfig.defaults.pluginsDir)]")
    var plugins: String?
    @Option(help: "Worker processes. [the number of cores]")
    var workers: Int?
    @Option(name: .customLong("node-id"), help: "This node's id. [HOSTNAME-PID]")
    var nodeID: String?
    @Option(name: .customLong("default-timeout"), help: "Seconds a task may run when neither client nor manifest says. [\(Settings.show(NodeConfig.defaults.defaultTimeout))]")
    var defaultTimeout: Double?
    @Option(name: .customLong("max-timeout"), help: "No task runs longer than this many seconds. [\(Settings.show(NodeConfig.defaults.maxTimeout))]")
    var maxTimeout: Double?
    @Option(name: .customLong("max-tasks-per-worker"), help: "Replace a worker after this many tasks (0: never). [\(NodeConfig.defaults.maxTasksPerWorker)]")
    var maxTasksPerWorker: Int?
    @Option(name: .customLong("max-worker-memory"), help: "Replace a worker above this many MiB resident (0: no limit). [\(NodeConfig.defaults.maxWorkerMemory / 1_048_576)]")
    var maxWorkerMemoryMiB: Int?
    @Option(name: .customLong("drain-grace"), help: "Seconds running tasks get to finish on SIGTERM. [\(Settings.show(NodeConfig.defaults.drainGrace))]")
    var drainGrace: Double?
    @Option(name: .customLong("heartbeat-interval"), help: "Seconds between heartbeats; keep well below the broker's node_timeout. [\(Settings.show(NodeConfig.defaults.heartbeatInterval))]")
    var heartbeatInterval: Double?
    @Option(name: .customLong("broker-publish"), help: "The remote broker's publish endpoint. [its port + 1]")
    var brokerPublish: String?
    @Option(name: .customLong("log-level"), help: "\(LogLevel.names). [\(Settings.Defaults.logLevel)]")
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: "\(LogLevel.formats): json writes one JSON object per line, for log shippers (node.log_format). [\(Settings.Defaults.logFormat)]")
    var logFormat: String?
    @Flag(name: .customLong("require-pins"), help: "Refuse plugins whose manifest has no sha256 pin (node.require_pins).")
    var requirePins = false
    @Option(help: "Tags of this node, comma-separated (gpu,eu): tasks that require tags run only on nodes having all of them (node.tags). [none]")
    var tags: String?
    @Option(name: .customLong("broker-key"), help: "A remote broker with keys: its public key (broker.pub, or the key in Z85); with --secret-key, this node's own NAME.key. [none: no CURVE]")
    var brokerKey: String?

    @OptionGroup(title: "Built-in broker") var builtin: BrokerOptions

    func run() async throws {
        let settings = try Settings(file: builtin.config)
        try LogLevel.bootstrap(settings, section: "node", level: logLevel, format: logFormat)
        var config = NodeConfig()
        config.pluginsDir = settings.string("node.plugins", plugins, default: config.pluginsDir)
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let w = try settings.int("node.workers", workers, default: 0)
        config.workers = w > 0 ? w : cores
        config.nodeID = settings.optionalString("node.node_id", nodeID)
        config.defaultTimeout = try settings.double("node.default_timeout", defaultTimeout, default: config.defaultTimeout)
        config.maxTimeout = try settings.double("node.max_timeout", maxTimeout, default: config.maxTimeout)
        config.maxTasksPerWorker = try settings.int("node.max_tasks_per_worker", maxTasksPerWorker, default: config.maxTasksPerWorker)
        config.maxWorkerMemory = try settings.int("node.max_worker_memory_mib", maxWorkerMemoryMiB, default: config.maxWorkerMemory / 1_048_576) * 1_048_576
        config.drainGrace = try settings.double("node.drain_grace", drainGrace, default: config.drainGrace)
        config.heartbeatInterval = try settings.double("node.heartbeat_interval", heartbeatInterval, default: config.heartbeatInterval)
        config.pluginConfig = try settings.pluginConfig()
        config.requirePins = try settings.bool("node.require_pins", requirePins, default: false)
        config.tags = try settings.tags("node.tags", tags)
        config.sandbox = try SandboxSettings(settings)

        ServiceProcess.configure()
        // The processes a crashed worker leaves come back to this process, for the node to kill.
        if config.sandbox.enabled { NodeProcess.becomeSubreaper() }
        var embedded: EmbeddedBroker?
        var http: BrokerOptions.HTTPSide?
        let context = ZMQContext()
        let brokerChoice = settings.string("node.broker", broker, default: Settings.Defaults.nodeBroker)
        if brokerChoice == "builtin" {
            let logger = Logger(label: "zerotask.broker")
            let security = try builtin.security(settings, logger: logger)
            let endpoints = try builtin.endpoints(settings, secured: security != nil, logger: logger)
            http = try builtin.httpSide(settings, logger: Logger(label: "zerotask.http"))
            let service = BrokerService(config: try builtin.brokerConfig(settings), request: endpoints.request,
                publish: endpoints.publish, store: try builtin.taskStore(settings, request: endpoints.request), context: context,
                logger: logger, security: security, monitor: http?.monitor)
            // The node serves its own broker from its own thread and calls it directly: no
            // socket, no libzmq I/O thread and no thread switch between node and broker.
            embedded = try service.startEmbedded()
            config.broker = "builtin"
        } else {
            do {
                config.brokers = try ConnectionOptions.brokerList(
                    brokerChoice, source: broker != nil ? "--broker" : settings.origin("node.broker")).endpoints
            } catch {
                throw ValidationError(error.message)
            }
            config.curve = try settings.clientCurve(secretKey: builtin.secretKey, brokerKey: brokerKey)
            if let curve = config.curve {
                Logger(label: "zerotask.node").notice("CURVE to the broker: broker key \(curve.serverKey), this node's key \(curve.keys.publicKey)")
            }
            let pub = settings.optionalString("node.broker_publish", brokerPublish)
            config.publish = pub?.isEmpty == false ? pub : nil
        }
        let node = NodeService(config: config, context: context, broker: embedded)
        // SIGTERM/SIGINT: no new tasks, running ones get the drain grace, then the node disconnects.
        try await ServiceProcess.run(node, http?.server, logger: node.logger)
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
    /// Load only this library, report how that went and exit (the node's probe of a new plugin).
    @Option var probe: String?
    /// The sandbox profile to apply before loading plugins (JSON), and the worker's memory cgroup.
    @Option var sandbox: String?
    @Option var cgroup: String?

    func run() throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "zerotask.worker")
        logger.logLevel = .warning
        var config: [String: JSONValue] = [:]
        if let o = (try? JSONValue.parse(pluginConfig))?.objectValue {
            for m in o.members { config[m.key] = m.value }
        }
        let profile = try sandbox.map { text in
            guard let json = try? JSONValue.parse(text), let p = SandboxProfile(json: json) else {
                throw ValidationError("--sandbox: not a sandbox profile: \(text)")
            }
            return p
        } ?? .unrestricted
        if let probe { WorkerMain.probe(library: probe, pluginConfig: config, sandbox: profile, logger: logger) }
        WorkerMain.run(pluginsDir: plugins, pluginConfig: config, maxResultBytes: maxResultBytes, sandbox: profile, cgroup: cgroup,
                       logger: logger)
    }
}

extension NodeConfig {
    /// The node's defaults, for `--help`.
    static var defaults: NodeConfig { NodeConfig() }
}
