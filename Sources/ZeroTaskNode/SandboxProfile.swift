#if canImport(Glibc)
import Glibc
#endif
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The limits a worker runs under: a method's declared limits, filled in with the node's
/// defaults and capped by its settings.
///
/// Landlock, seccomp and rlimits cannot be undone in a process, so a worker is started with one
/// profile and applies it once, before it loads plugins; methods with equal profiles share
/// workers (`NodeStateMachine+Sandbox`).
public struct SandboxProfile: Sendable, Hashable, CustomStringConvertible {
    /// The worker's memory in MiB (0: no limit).
    public var memoryMiB: Int
    /// CPU seconds per task (0: no limit besides the deadline).
    public var cpuSeconds: Int
    /// Processes a task may start; 0 forbids `fork`, nil allows any number.
    public var processes: Int?
    /// Whether sockets other than AF_UNIX may be opened.
    public var network: Bool
    /// Declared readable paths, sorted.
    public var read: [String]
    /// Declared writable paths, sorted.
    public var write: [String]

    public init(memoryMiB: Int, cpuSeconds: Int, processes: Int?, network: Bool, read: [String], write: [String]) {
        self.memoryMiB = memoryMiB
        self.cpuSeconds = cpuSeconds
        self.processes = processes
        self.network = network
        self.read = Array(Set(read)).sorted()
        self.write = Array(Set(write)).sorted()
    }

    /// No limits at all (the sandbox turned off): the worker applies nothing.
    public static let unrestricted = SandboxProfile(memoryMiB: 0, cpuSeconds: 0, processes: nil, network: true, read: ["/"], write: ["/"])

    public var isUnrestricted: Bool { self == .unrestricted }

    /// The form a worker receives (`--sandbox`) and `plugins list --json` shows.
    public var json: JSONValue {
        var o = JSONObject()
        o.append("memory_mib", .int(Int64(memoryMiB)))
        o.append("cpu_seconds", .int(Int64(cpuSeconds)))
        o.append("processes", processes.map { .int(Int64($0)) } ?? .null)
        o.append("network", .bool(network))
        o.append("read", .array(read.map { .string($0) }))
        o.append("write", .array(write.map { .string($0) }))
        return .object(o)
    }

    public init?(json: JSONValue) {
        guard let memory = json["memory_mib"]?.int64Value, let cpu = json["cpu_seconds"]?.int64Value,
            let network = json["network"]?.boolValue, let read = json["read"]?.arrayValue, let write = json["write"]?.arrayValue
        else { return nil }
        self.init(memoryMiB: Int(memory), cpuSeconds: Int(cpu), processes: json["processes"]?.int64Value.map(Int.init),
                  network: network, read: read.compactMap(\.stringValue), write: write.compactMap(\.stringValue))
    }

    /// One line for logs and `plugins list`: `memory 256 MiB, cpu 10 s, processes 0, network off, read /a, write none`.
    public var description: String {
        if isUnrestricted { return "unrestricted (sandbox off)" }
        func paths(_ p: [String]) -> String { p.isEmpty ? "none" : p.joined(separator: " ") }
        return [
            memoryMiB > 0 ? "memory \(memoryMiB) MiB" : "memory unlimited",
            cpuSeconds > 0 ? "cpu \(cpuSeconds) s" : "cpu unlimited",
            "processes \(processes.map(String.init) ?? "any")",
            "network \(network ? "on" : "off")",
            "read \(paths(read))", "write \(paths(write))",
        ].joined(separator: ", ")
    }
}

extension SandboxProfile {
    /// The error for a task whose worker ended by going over one of these limits: an OOM kill in
    /// the worker's memory cgroup (`oomKills`, as the loop read it) is `memory_mib`, SIGXCPU is
    /// `cpu_seconds`; nil when the end was something else (a crash).
    func limitError(_ exit: ProcessExit, oomKills: Int, method: String, task: String) -> RPCError? {
        if oomKills > 0 && memoryMiB > 0 {
            return RPCError(.resourceLimit, "\(method) exceeded its memory limit (memory_mib \(memoryMiB)) in task \(task)",
                            data: ["limit": "memory_mib", "memory_mib": .int(Int64(memoryMiB))])
        }
        if exit == .signaled(SIGXCPU) && cpuSeconds > 0 {
            return RPCError(.resourceLimit, "\(method) used up its CPU time (cpu_seconds \(cpuSeconds)) in task \(task)",
                            data: ["limit": "cpu_seconds", "cpu_seconds": .int(Int64(cpuSeconds))])
        }
        return nil
    }
}

/// The node's sandbox settings: on or off, what an undeclared limit is, and the caps.
public struct SandboxSettings: Sendable {
    /// Whether workers are sandboxed at all (`node.sandbox`).
    public var enabled = true
    /// Refuse to start when a mechanism is missing (`node.require_sandbox`).
    public var required = false
    /// The limits of a plugin that declares none (each field is set).
    public var defaults = SandboxLimits(memoryMiB: 1024, cpuSeconds: 300, processes: 0, network: false, read: [], write: [])
    /// No method gets more memory than this, whatever it declares (`node.sandbox_max_memory_mib`).
    public var maxMemoryMiB = 4096
    /// No task gets more CPU seconds than this (`node.sandbox_max_cpu_seconds`).
    public var maxCPUSeconds = 3600
    /// Whether a plugin may declare `processes` above 0 (`node.sandbox_allow_processes`).
    public var allowProcesses = true
    /// Whether a plugin may declare `network: true` (`node.sandbox_allow_network`).
    public var allowNetwork = true
    /// The paths beneath which a plugin may declare `read` paths (`node.sandbox_read`); nil: any.
    /// A plugin declaring one outside is refused when it loads (`pathOutsideCaps`).
    public var allowRead: [String]?
    /// The same for `write` (`node.sandbox_write`).
    public var allowWrite: [String]?

    public init() {}

    /// The first declared path outside the node's allow lists: the field (`limits.read[0]`,
    /// `methods`' own under their name) and why; nil when every path is inside. Readable paths
    /// may also lie beneath a writable one.
    public func pathOutsideCaps(_ declared: SandboxLimits) -> (field: String, cause: String)? {
        guard enabled else { return nil }
        func beneath(_ path: String, _ roots: [String]) -> Bool {
            roots.contains { root in
                let r = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
                return path == r || path.hasPrefix(r == "/" ? "/" : r + "/")
            }
        }
        let lists: [(String, [String]?, [String]?, String)] = [
            ("read", declared.read, allowRead.map { $0 + (allowWrite ?? []) }, "node.sandbox_read"),
            ("write", declared.write, allowWrite, "node.sandbox_write"),
        ]
        for (field, paths, allowed, setting) in lists {
            guard let allowed else { continue }
            for (i, p) in (paths ?? []).enumerated() where !beneath(p, allowed) {
                let shown = allowed.isEmpty ? "nothing" : allowed.joined(separator: ":")
                return ("limits.\(field)[\(i)]", "\(p) is outside what the node allows (\(setting): \(shown))")
            }
        }
        return nil
    }

    /// The profile of a method that declares `declared`.
    public func profile(for declared: SandboxLimits) -> SandboxProfile {
        guard enabled else { return .unrestricted }
        let l = defaults.overridden(by: declared)
        return SandboxProfile(
            memoryMiB: min(l.memoryMiB ?? maxMemoryMiB, maxMemoryMiB),
            cpuSeconds: min(l.cpuSeconds ?? maxCPUSeconds, maxCPUSeconds),
            processes: allowProcesses ? l.processes : 0,
            network: allowNetwork && (l.network ?? false),
            read: l.read ?? [], write: l.write ?? [])
    }
}
