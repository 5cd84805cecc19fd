import Foundation
import ZeroTaskBroker
import ZeroTaskProtocol

/// Settings from the configuration file and the environment, for flags left unset.
///
/// Precedence, highest first: a command-line flag, an environment variable
/// (`ZEROTASK_SECTION_KEY`, e.g. `ZEROTASK_NODE_WORKERS=4`), the file (`--config PATH`, else
/// `$ZEROTASK_CONFIG`, else `config/zerotask.yaml` when it exists), the built-in default.
/// The file is read with libyaml (SettingsFile, YAMLNode); the precedence is the few lines of `raw` and
/// `value` below.
///
/// The file is YAML (JSON is YAML too). It is checked whole when it is read: an unknown key is an
/// error naming the file, its line and the nearest known key, so a misspelt setting never goes
/// unnoticed; so is a file that cannot be read or parsed.
struct Settings {
    /// The file read, if any.
    let source: String?
    /// The file's values by key (`broker.node_timeout`), as text.
    private let fileValues: [String: String]
    private let environment: [String: String]
    /// Each file key's line, for errors about its value.
    private let lines: [String: Int]
    /// `node.plugin_config`: plugin name to its configuration, from the file.
    private let pluginConfigFromFile: [String: JSONValue]
    /// `broker.methods` from the file, and each method's line.
    private let methodsFromFile: [String: JSONValue]
    private let methodLines: [String: Int]
    /// `broker.schedules`, from the file only.
    let schedules: [Schedule]

    /// Every key the file may hold (besides `node.plugin_config.PLUGIN`). Their defaults live with
    /// the code that uses them (`BrokerConfig`, `NodeConfig`, `Settings.Defaults`).
    static let knownKeys: [String] = [
        "broker.request", "broker.publish", "broker.store", "broker.data_dir", "broker.store_sync", "broker.store_password_file",
        "broker.broker_id", "broker.broker_timeout", "broker.store_poll_only",
        "broker.node_timeout", "broker.client_timeout", "broker.result_ttl", "broker.max_retries",
        "broker.max_message_bytes", "broker.max_queued", "broker.max_queued_per_method", "broker.log_level", "broker.log_format",
        "broker.client_ttl", "broker.max_queued_bytes", "broker.max_results", "broker.max_result_bytes",
        "broker.max_task_retries", "broker.max_result_ttl", "broker.max_task_timeout", "broker.max_delay", "broker.max_wait_ids",
        "broker.max_batch_entries", "broker.max_parked_waits_per_connection", "broker.max_parked_waits",
        "broker.max_parked_wait_ids", "broker.call_store_delay", "broker.http", "broker.methods", "broker.schedules",
        "node.broker", "node.broker_publish", "node.plugins", "node.workers", "node.node_id", "node.default_timeout",
        "node.max_timeout", "node.max_tasks_per_worker", "node.max_worker_memory_mib", "node.drain_grace",
        "node.heartbeat_interval", "node.log_level", "node.log_format", "node.plugin_config", "node.require_pins", "node.tags",
        // The plugin sandbox (SandboxSettings+Settings.swift).
        "node.sandbox", "node.require_sandbox", "node.sandbox_max_memory_mib", "node.sandbox_max_cpu_seconds",
        "node.sandbox_allow_processes", "node.sandbox_allow_network", "node.sandbox_read", "node.sandbox_write",
        "client.broker",
        "security.secret_key", "security.keys_dir", "security.broker_key", "security.insecure",
    ]

    /// The defaults of settings that belong to the executable alone (the libraries' are in
    /// `BrokerConfig` and `NodeConfig`), written once here and shown in `--help`.
    enum Defaults {
        /// Without keys: this machine only (a wider bind needs `--insecure`).
        static let request = "tcp://127.0.0.1:5555"
        static let publish = "tcp://127.0.0.1:5556"
        /// With keys (CURVE): every interface.
        static let securedRequest = "tcp://*:5555"
        static let securedPublish = "tcp://*:5556"
        static let store = "sqlite"
        static let dataDir = "data"
        static let storeSync = "full"
        static let logLevel = "info"
        /// `text` for people, `json` (one object per line) for log shippers.
        static let logFormat = "text"
        static let keysDir = "keys"
        static let nodeBroker = "builtin"
        static let clientBroker = "tcp://127.0.0.1:5555"
        static let http = "http://127.0.0.1:5580"
    }

    /// A problem with the file or a value: printed as is, naming where it is.
    struct FileError: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { line > 0 ? "\(file):\(line): \(reason)" : "\(file): \(reason)" }
    }

    struct ValidationFailure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = "configuration: " + d }
    }

    /// Reads and checks the file (`explicit`, else `$ZEROTASK_CONFIG`, else `config/zerotask.yaml`
    /// when it exists).
    /// - Throws: `FileError` when the file cannot be read, is not YAML, or holds an unknown key.
    init(file explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.environment = environment
        let named = explicit ?? environment["ZEROTASK_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let path = named ?? (FileManager.default.fileExists(atPath: "config/zerotask.yaml") ? "config/zerotask.yaml" : nil)
        source = path
        var fileValues: [String: String] = [:]
        var lines: [String: Int] = [:]
        var plugins: [String: JSONValue] = [:]
        var methods: [String: JSONValue] = [:]
        var methodLines: [String: Int] = [:]
        var schedules: [Schedule] = []
        if let path {
            let file = try SettingsFile(path: path)
            for entry in file.entries {
                fileValues[entry.key] = entry.text
                lines[entry.key] = entry.line
            }
            plugins = file.pluginConfig
            methods = file.methods
            methodLines = file.methodLines
            schedules = file.schedules
        }
        methodsFromFile = methods
        self.methodLines = methodLines
        self.schedules = schedules
        self.lines = lines
        pluginConfigFromFile = plugins
        self.fileValues = fileValues
    }

    /// A default as `--help` shows it: 10, not 10.0.
    static func show(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v) }
    static func show(_ v: Int) -> String { String(v) }

    /// The environment variable for `key`.
    static func variable(_ key: String) -> String {
        "ZEROTASK_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The raw text for `section.key`: the environment first (`ZEROTASK_BROKER_NODE_TIMEOUT` for
    /// `broker.node_timeout`), then the file.
    func raw(_ key: String) -> String? { environment[Self.variable(key)] ?? fileValues[key] }

    /// Where the value of `key` came from, for an error about it.
    func origin(_ key: String) -> String {
        if environment[Self.variable(key)] != nil { return "\(Self.variable(key)) (\(key))" }
        if let source, let line = lines[key] { return "\(source):\(line): \(key)" }
        return key
    }

    func string(_ key: String, _ flag: String?, default d: String) -> String { flag ?? raw(key) ?? d }
    func optionalString(_ key: String, _ flag: String?) -> String? { flag ?? raw(key) }

    /// - Throws: `ValidationFailure` naming the key, where it was set and the value, when the
    ///   value is no integer.
    func int(_ key: String, _ flag: Int?, default d: Int) throws -> Int {
        try value(key, flag, default: d, kind: "an integer") { Int($0) }
    }

    /// - Throws: `ValidationFailure` naming the key, where it was set and the value, when the
    ///   value is no number.
    func double(_ key: String, _ flag: Double?, default d: Double) throws -> Double {
        try value(key, flag, default: d, kind: "a number") { Double($0).flatMap { $0.isFinite ? $0 : nil } }
    }

    /// A switch: the flag when it is on, else `true`/`false` (also yes/no, on/off, 1/0) from the
    /// environment or the file.
    /// - Throws: `ValidationFailure` naming the key, where it was set and the value, when the
    ///   value is no boolean.
    func bool(_ key: String, _ flag: Bool, default d: Bool) throws -> Bool {
        try value(key, flag ? true : nil, default: d, kind: "true or false") { text in
            switch text.lowercased() {
            case "true", "yes", "on", "1": true
            case "false", "no", "off", "0": false
            default: nil
            }
        }
    }

    /// A list of absolute paths separated by `:` (like PATH; empty: none); nil when unset.
    /// - Throws: `ValidationFailure` naming the key when an entry is not absolute.
    func paths(_ key: String) throws -> [String]? {
        guard raw(key) != nil else { return nil }
        return try value(key, nil, default: [], kind: "absolute paths separated by ':'") { text in
            let list = text.split(separator: ":").map(String.init)
            return list.allSatisfy { $0.hasPrefix("/") } ? list : nil
        }
    }

    private func value<T>(_ key: String, _ flag: T?, default d: T, kind: String, _ parse: (String) -> T?) throws -> T {
        if let flag { return flag }
        guard let text = raw(key) else { return d }
        guard let v = parse(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationFailure("\(origin(key)) must be \(kind), not \"\(text)\"")
        }
        return v
    }

    /// `broker.methods`: each method's `concurrency`, `rate` and `retry` as the operator sets them
    /// (they win over the plugin manifest's, field by field); from the file, then
    /// `$ZEROTASK_BROKER_METHODS` (a JSON object of method name to limits), whose methods replace
    /// the file's.
    /// - Throws: `ValidationFailure` naming the file and line (or the variable), the method and
    ///   the field, for a value that does not read or a key that is no limit.
    func methodPolicies() throws -> [String: MethodPolicy] {
        var entries: [(name: String, value: JSONValue, origin: String)] = methodsFromFile.map { name, value in
            (name, value, source.map { "\($0):\(methodLines[name] ?? 0): broker.methods" } ?? "broker.methods")
        }
        let variable = Self.variable("broker.methods")
        if let text = environment[variable], !text.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let object = (try? JSONValue.parse(text))?.objectValue else {
                throw ValidationFailure("\(variable) must be a JSON object of method name to limits, like {\"math.add\": {\"concurrency\": 4}}, not \(text)")
            }
            entries.removeAll { object[$0.name] != nil }
            entries += object.members.map { ($0.key, $0.value, variable) }
        }
        var out: [String: MethodPolicy] = [:]
        for e in entries {
            guard Identifier.isValidMethodName(e.name) else { throw ValidationFailure("\(e.origin): \"\(e.name)\" is not a method name") }
            guard let o = e.value.objectValue else {
                throw ValidationFailure("\(e.origin).\(e.name) must hold limits, like {concurrency: 4, rate: 100/s}, not \(e.value)")
            }
            for key in o.keys where !MethodPolicy.fields.contains(key) {
                throw ValidationFailure("\(e.origin).\(e.name).\(key) is not a method setting (known: \(MethodPolicy.fields.joined(separator: ", ")))")
            }
            do throws(PolicyError) {
                out[e.name] = try MethodPolicy(reading: o, prefix: "\(e.origin).\(e.name)")
            } catch {
                throw ValidationFailure(error.description)
            }
        }
        return out
    }

    /// `node.tags` (`gpu,eu`), or the flag; empty when neither.
    /// - Throws: `ValidationFailure` naming the setting and the tag that is not one.
    func tags(_ key: String, _ flag: String?) throws -> [String] {
        guard let text = flag ?? raw(key) else { return [] }
        do throws(PolicyError) { return try Tags.parse(text, field: flag != nil ? "--tags" : origin(key)) } catch {
            throw ValidationFailure(error.description)
        }
    }

    /// The configuration of each plugin: the file's `node.plugin_config`, then
    /// `$ZEROTASK_NODE_PLUGIN_CONFIG` (a JSON object of plugin name to configuration), whose
    /// plugins replace the file's.
    /// - Throws: `ValidationFailure` when the variable is not a JSON object.
    func pluginConfig() throws -> [String: JSONValue] {
        var out = pluginConfigFromFile
        let variable = Self.variable("node.plugin_config")
        guard let text = environment[variable], !text.trimmingCharacters(in: .whitespaces).isEmpty else { return out }
        guard let object = (try? JSONValue.parse(text))?.objectValue else {
            throw ValidationFailure("\(variable) must be a JSON object of plugin name to configuration, like {\"math\": {\"precision\": 2}}, not \(text)")
        }
        for m in object.members { out[m.key] = m.value }
        return out
    }
}
