import ZeroTaskProtocol

/// The sandbox limits a manifest declares (`"limits"`, per plugin and per method): each field
/// is optional, a method's own fields override its plugin's, and the node fills in what is
/// left unsaid and caps the rest by its settings.
public struct SandboxLimits: Sendable, Hashable {
    /// The most memory the worker may use, in MiB.
    public var memoryMiB: Int?
    /// The most CPU time one task may use, in seconds.
    public var cpuSeconds: Int?
    /// How many processes the plugin may start: 0 forbids `fork`.
    public var processes: Int?
    /// Whether the plugin may open network sockets (anything but AF_UNIX).
    public var network: Bool?
    /// Paths the plugin may read (files, or folders with everything beneath).
    public var read: [String]?
    /// Paths the plugin may read and write.
    public var write: [String]?

    public init(memoryMiB: Int? = nil, cpuSeconds: Int? = nil, processes: Int? = nil, network: Bool? = nil,
                read: [String]? = nil, write: [String]? = nil) {
        self.memoryMiB = memoryMiB
        self.cpuSeconds = cpuSeconds
        self.processes = processes
        self.network = network
        self.read = read
        self.write = write
    }

    /// The manifest's field names.
    static let fields: Set<String> = ["memory_mib", "cpu_seconds", "processes", "network", "read", "write"]

    /// These limits with every field `other` declares taking its place.
    public func overridden(by other: SandboxLimits) -> SandboxLimits {
        SandboxLimits(memoryMiB: other.memoryMiB ?? memoryMiB, cpuSeconds: other.cpuSeconds ?? cpuSeconds,
                      processes: other.processes ?? processes, network: other.network ?? network,
                      read: other.read ?? read, write: other.write ?? write)
    }

    /// The manifest form: only the declared fields.
    public var json: JSONValue {
        var o = JSONObject()
        if let memoryMiB { o.append("memory_mib", .int(Int64(memoryMiB))) }
        if let cpuSeconds { o.append("cpu_seconds", .int(Int64(cpuSeconds))) }
        if let processes { o.append("processes", .int(Int64(processes))) }
        if let network { o.append("network", .bool(network)) }
        if let read { o.append("read", .array(read.map { .string($0) })) }
        if let write { o.append("write", .array(write.map { .string($0) })) }
        return .object(o)
    }

    /// Reads the form `json` writes (limits passed between processes); nil when it is not.
    public init?(json: JSONValue) {
        guard let l = try? Self.parse(json, field: "limits", method: nil, reader: ManifestReader(file: "limits")) else { return nil }
        self = l
    }

    /// Reads `"limits"` (absent: nothing declared); problems name `field` and the method.
    static func parse(_ json: JSONValue?, field f: String, method: String?, reader r: ManifestReader) throws(PluginProblem) -> SandboxLimits {
        guard let json else { return SandboxLimits() }
        guard case .object(let o) = json else { throw r.problem(method, f, "must be an object of limits, not \(json.typeName)") }
        for key in o.keys where !fields.contains(key) {
            throw r.problem(method, "\(f).\(key)", "unknown limit (known: \(fields.sorted().joined(separator: ", ")))")
        }
        func count(_ key: String, least: Int) throws(PluginProblem) -> Int? {
            guard let v = o[key] else { return nil }
            guard let n = v.int64Value, n >= least, n <= Int64(Int32.max) else {
                throw r.problem(method, "\(f).\(key)", "must be a whole number from \(least), not \(v)")
            }
            return Int(n)
        }
        func paths(_ key: String) throws(PluginProblem) -> [String]? {
            guard let v = o[key] else { return nil }
            guard case .array(let list) = v else { throw r.problem(method, "\(f).\(key)", "must be an array of absolute paths") }
            var out: [String] = []
            for (i, p) in list.enumerated() {
                guard case .string(let s) = p, s.hasPrefix("/"), !s.utf8.contains(0) else {
                    throw r.problem(method, "\(f).\(key)[\(i)]", "must be an absolute path, not \(p)")
                }
                out.append(s)
            }
            return out
        }
        var network: Bool?
        if let v = o["network"] {
            guard case .bool(let b) = v else { throw r.problem(method, "\(f).network", "must be true or false, not \(v)") }
            network = b
        }
        return SandboxLimits(memoryMiB: try count("memory_mib", least: 1), cpuSeconds: try count("cpu_seconds", least: 1),
                             processes: try count("processes", least: 0), network: network,
                             read: try paths("read"), write: try paths("write"))
    }
}
