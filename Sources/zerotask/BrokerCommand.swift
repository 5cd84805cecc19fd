import ArgumentParser
import Foundation
import Logging
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskLifecycle
import ZeroTaskSystem

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Run a standalone broker.")

    @OptionGroup var broker: BrokerOptions
    @Option(name: .customLong("log-level"), help: "\(LogLevel.names). [\(Settings.Defaults.logLevel)]")
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: "\(LogLevel.formats): json writes one JSON object per line, for log shippers (broker.log_format). [\(Settings.Defaults.logFormat)]")
    var logFormat: String?

    func run() async throws {
        let settings = try Settings(file: broker.config)
        try LogLevel.bootstrap(settings, section: "broker", level: logLevel, format: logFormat)
        let logger = Logger(label: "zerotask.broker")
        ServiceProcess.configure()
        let security = try broker.security(settings, logger: logger)
        let endpoints = try broker.endpoints(settings, secured: security != nil, logger: logger)
        let http = try broker.httpSide(settings, logger: logger)
        let service = BrokerService(
            config: try broker.brokerConfig(settings), request: endpoints.request,
            publish: endpoints.publish, store: try broker.taskStore(settings, request: endpoints.request),
            logger: logger, security: security, monitor: http?.monitor)
        // SIGINT/SIGTERM: pending commits are written and the stop is logged before the exit;
        // the HTTP server, last in the group, stops first.
        try await ServiceProcess.run(service, http?.server, logger: logger)
    }
}

/// Flags shared by `broker` and `node --broker builtin`; unset ones come from the environment,
/// then the configuration file (see `config/zerotask.yaml`).
struct BrokerOptions: ParsableArguments {
    @Option(help: "Configuration file (default: $ZEROTASK_CONFIG, else config/zerotask.yaml).")
    var config: String?
    @Option(help: "The request endpoint to bind (ROUTER). [\(Settings.Defaults.request); with keys \(Settings.Defaults.securedRequest)]")
    var request: String?
    @Option(help: "The publish endpoint to bind (PUB). [\(Settings.Defaults.publish); with keys \(Settings.Defaults.securedPublish)]")
    var publish: String?
    @Option(name: .customLong("node-timeout"), help: "Seconds of silence after which a node is dead. [\(Settings.show(BrokerConfig.defaults.nodeTimeout))]")
    var nodeTimeout: Double?
    @Option(name: .customLong("result-ttl"), help: "Seconds finished results are kept. [\(Settings.show(BrokerConfig.defaults.resultTTL))]")
    var resultTTL: Double?
    @Option(name: .customLong("max-retries"), help: "Times a task is queued again after its node was lost or its worker crashed. [\(Settings.show(BrokerConfig.defaults.maxRetries))]")
    var maxRetries: Int?
    @Option(name: .customLong("max-message-bytes"), help: "Largest request body accepted. [\(Settings.show(BrokerConfig.defaults.maxMessageBytes))]")
    var maxMessageBytes: Int?
    @Option(name: .customLong("max-queued"), help: "Queued tasks allowed in all. [\(Settings.show(BrokerConfig.defaults.maxQueued))]")
    var maxQueued: Int?
    @Option(name: .customLong("max-queued-bytes"), help: "Bytes of params unfinished tasks may hold in all. [\(Settings.show(BrokerConfig.defaults.maxQueuedBytes))]")
    var maxQueuedBytes: Int?
    @Option(name: .customLong("max-results"), help: "Results kept at most; the oldest are deleted early beyond it. [\(Settings.show(BrokerConfig.defaults.maxResults))]")
    var maxResults: Int?
    @Option(name: .customLong("max-result-bytes"), help: "Bytes of results kept at most; the oldest are deleted early beyond it. [\(Settings.show(BrokerConfig.defaults.maxResultBytes))]")
    var maxResultBytes: Int?
    @Option(name: .customLong("max-task-retries"), help: "The largest max_retries a task may ask for. [\(Settings.show(BrokerConfig.defaults.maxTaskRetries))]")
    var maxTaskRetries: Int?
    @Option(name: .customLong("max-result-ttl"), help: "The longest result_ttl a task may ask for, in seconds. [\(Settings.show(BrokerConfig.defaults.maxResultTTL))]")
    var maxResultTTL: Double?
    @Option(name: .customLong("max-task-timeout"), help: "The longest timeout a task may ask for, in seconds. [\(Settings.show(BrokerConfig.defaults.maxTaskTimeout))]")
    var maxTaskTimeout: Double?
    @Option(name: .customLong("max-delay"), help: "The furthest ahead a task may ask to start (delay or not_before), in seconds. [\(Settings.show(BrokerConfig.defaults.maxDelay))]")
    var maxDelay: Double?
    @Option(name: .customLong("client-ttl"), help: "Seconds after which an inactive client with nothing pending is forgotten. [\(Settings.show(BrokerConfig.defaults.clientTTL))]")
    var clientTTL: Double?
    @Option(help: "Where tasks and results are kept: memory, sqlite (DATA_DIR/zerotask.sqlite), sqlite:PATH or postgres://USER@HOST:PORT/DB. [\(Settings.Defaults.store)]")
    var store: String?
    @Option(name: .customLong("data-dir"), help: "The directory of the default SQLite store. [\(Settings.Defaults.dataDir)]")
    var dataDir: String?
    @Option(name: .customLong("store-sync"), help: "SQLite commits: full (fsync, survives power loss) or normal (survives a killed broker). [\(Settings.Defaults.storeSync)]")
    var storeSync: String?
    @Option(help: "Where /metrics, /health and the dashboard are served (http://HOST:PORT), or off. [\(Settings.Defaults.http)]")
    var http: String?
    @Option(name: .customLong("store-password-file"), help: "A file holding the PostgreSQL password (else the URL's, $PGPASSWORD or ~/.pgpass).")
    var storePasswordFile: String?
    @Option(name: .customLong("broker-id"), help: "On a shared PostgreSQL store: this broker's name in the queue, the same across its restarts. [HOST:REQUEST_ENDPOINT]")
    var brokerID: String?
    @Option(name: .customLong("broker-timeout"), help: "On a shared PostgreSQL store: seconds without renewing its lease after which a broker is dead and its tasks run elsewhere. [\(Settings.show(BrokerLease.defaultTimeout))]")
    var brokerTimeout: Double?
    @Flag(name: .customLong("store-poll-only"), help: "On a shared PostgreSQL store: no LISTEN for other brokers' commits, only a look every second (behind PgBouncer in transaction mode; broker.store_poll_only).")
    var storePollOnly = false

    @Option(name: .customLong("secret-key"), help: "This process's own key file (NAME.key from `zerotask keys generate`). A broker: CURVE on both sockets; a node of a remote broker: with --broker-key. [none: no CURVE]")
    var secretKey: String?
    @Option(name: .customLong("keys-dir"), help: "With --secret-key: the folder of allowed keys, clients/, nodes/ and admins/ holding NAME.pub files. [\(Settings.Defaults.keysDir)]")
    var keysDir: String?

    /// CURVE for the broker when a secret key is configured (`security.secret_key`), else nil.
    func security(_ s: Settings, logger: Logger) throws -> BrokerSecurity? {
        guard let path = s.optionalString("security.secret_key", secretKey), !path.isEmpty else { return nil }
        do {
            let keys = try CurveKeyFile.readSecret(path)
            let dir = s.string("security.keys_dir", keysDir, default: Settings.Defaults.keysDir)
            return BrokerSecurity(keys: keys, peers: try PeerKeys(directory: dir, logger: logger))
        } catch {
            throw Settings.ValidationFailure("security: \(error.description)")
        }
    }

    @Flag(help: "Without keys, allow binding an address other than loopback (security.insecure); logged as a warning.")
    var insecure = false

    /// The endpoints to bind. By default loopback without keys and every interface with them;
    /// without keys, an endpoint beyond this machine needs `--insecure` (and is warned about).
    func endpoints(_ s: Settings, secured: Bool, logger: Logger) throws -> (request: String, publish: String) {
        let request = s.string("broker.request", request, default: secured ? Settings.Defaults.securedRequest : Settings.Defaults.request)
        let publish = s.string("broker.publish", publish, default: secured ? Settings.Defaults.securedPublish : Settings.Defaults.publish)
        if !secured {
            try BindPolicy.check([("broker.request", request), ("broker.publish", publish)],
                insecure: try s.bool("security.insecure", insecure, default: false), logger: logger)
        }
        return (request, publish)
    }

    /// The store `--store` names: `memory`, `sqlite` (the default file under the data directory),
    /// `sqlite:PATH` (relative to the working directory).
    func taskStore(_ s: Settings, request: String) throws -> TaskStore {
        let spec = s.string("broker.store", store, default: Settings.Defaults.store)
        let syncName = s.string("broker.store_sync", storeSync, default: Settings.Defaults.storeSync)
        guard let sync = SQLiteTaskStore.Synchronous(rawValue: syncName.lowercased()) else {
            throw Settings.ValidationFailure("broker.store_sync must be full or normal, not \"\(syncName)\"")
        }
        switch spec {
        case "memory":
            return MemoryTaskStore()
        case "sqlite":
            let dir = s.string("broker.data_dir", dataDir, default: Settings.Defaults.dataDir)
            return try SQLiteTaskStore(path: (dir.isEmpty ? "." : dir) + "/zerotask.sqlite", synchronous: sync)
        case let p where p.hasPrefix("sqlite:") && p.count > 7:
            return try SQLiteTaskStore(path: String(p.dropFirst(7)), synchronous: sync)
        case let url where url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"):
            // Several brokers on one database share its queue (issue 16).
            let host = HostName.current() ?? "broker"
            let id = s.string("broker.broker_id", brokerID, default: "\(host):\(request)")
            let timeout = try s.double("broker.broker_timeout", brokerTimeout, default: BrokerLease.defaultTimeout)
            guard timeout > 0 else { throw Settings.ValidationFailure("broker.broker_timeout must be above 0, not \(timeout)") }
            return try PostgresSharedStore(SharedQueueOptions(
                url: url, password: try storePassword(s), brokerID: id, brokerTimeout: timeout,
                listening: !(try s.bool("broker.store_poll_only", storePollOnly, default: false))))
        default:
            throw Settings.ValidationFailure("broker.store must be memory, sqlite, sqlite:PATH or postgres://USER@HOST:PORT/DB, not \"\(spec)\"")
        }
    }

    /// The PostgreSQL password from `broker.store_password_file` (its first line), if set.
    private func storePassword(_ s: Settings) throws -> String? {
        guard let path = s.optionalString("broker.store_password_file", storePasswordFile), !path.isEmpty else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Settings.ValidationFailure("broker.store_password_file \(path) cannot be read")
        }
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }

    func brokerConfig(_ s: Settings) throws -> BrokerConfig {
        var c = BrokerConfig()
        c.nodeTimeout = try s.double("broker.node_timeout", nodeTimeout, default: c.nodeTimeout)
        c.clientTimeout = try s.double("broker.client_timeout", nil, default: c.clientTimeout)
        c.resultTTL = try s.double("broker.result_ttl", resultTTL, default: c.resultTTL)
        c.maxRetries = try s.int("broker.max_retries", maxRetries, default: c.maxRetries)
        c.maxMessageBytes = try s.int("broker.max_message_bytes", maxMessageBytes, default: c.maxMessageBytes)
        c.maxQueued = try s.int("broker.max_queued", maxQueued, default: c.maxQueued)
        c.maxQueuedPerMethod = try s.int("broker.max_queued_per_method", nil, default: c.maxQueuedPerMethod)
        c.maxQueuedBytes = try s.int("broker.max_queued_bytes", maxQueuedBytes, default: c.maxQueuedBytes)
        c.maxResults = try s.int("broker.max_results", maxResults, default: c.maxResults)
        c.maxResultBytes = try s.int("broker.max_result_bytes", maxResultBytes, default: c.maxResultBytes)
        c.maxTaskRetries = try s.int("broker.max_task_retries", maxTaskRetries, default: c.maxTaskRetries)
        c.maxResultTTL = try s.double("broker.max_result_ttl", maxResultTTL, default: c.maxResultTTL)
        c.maxTaskTimeout = try s.double("broker.max_task_timeout", maxTaskTimeout, default: c.maxTaskTimeout)
        c.maxDelay = try s.double("broker.max_delay", maxDelay, default: c.maxDelay)
        c.clientTTL = try s.double("broker.client_ttl", clientTTL, default: c.clientTTL)
        c.maxWaitIDs = try s.int("broker.max_wait_ids", nil, default: c.maxWaitIDs)
        c.maxBatchEntries = try s.int("broker.max_batch_entries", nil, default: c.maxBatchEntries)
        c.maxParkedWaitsPerConnection = try s.int("broker.max_parked_waits_per_connection", nil, default: c.maxParkedWaitsPerConnection)
        c.maxParkedWaits = try s.int("broker.max_parked_waits", nil, default: c.maxParkedWaits)
        c.maxParkedWaitIDs = try s.int("broker.max_parked_wait_ids", nil, default: c.maxParkedWaitIDs)
        c.callStoreDelay = max(0, try s.double("broker.call_store_delay", nil, default: c.callStoreDelay))
        c.methodPolicies = try s.methodPolicies()
        c.schedules = s.schedules
        return c
    }
}

extension BrokerConfig {
    /// The broker's defaults, for `--help`.
    static var defaults: BrokerConfig { BrokerConfig() }
}
