#if canImport(Glibc)
import Glibc
#endif
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The node's side of the sandbox: what this machine offers, each method's profile, and the
/// profile workers start with. Pure rules; `NodeLoop+Sandbox` does the I/O.
struct NodeSandbox {
    let settings: SandboxSettings
    /// Checked once at start; nil with the sandbox off.
    let support: SandboxSupport?
    /// Each method's profile (from the manifests of the generation being served).
    private(set) var profiles: [String: SandboxProfile] = [:]
    /// The profile most methods share: new workers take it unless a waiting task needs another.
    private(set) var primary: SandboxProfile

    init(settings: SandboxSettings, support: SandboxSupport?) {
        self.settings = settings
        self.support = support
        primary = settings.profile(for: SandboxLimits())
    }

    /// Checks the kernel (when the sandbox is on) with `detect`.
    /// - Throws: `NodeStartError.sandboxMissing` when `settings.required` and a mechanism is missing.
    static func start(_ settings: SandboxSettings, detect: () -> SandboxSupport = SandboxSupport.detect) throws(NodeStartError) -> NodeSandbox {
        let support = settings.enabled ? detect() : nil
        if settings.required, let missing = support?.missing, !missing.isEmpty {
            if case .success(let root)? = support?.cgroups { root.remove() }
            throw .sandboxMissing(missing)
        }
        return NodeSandbox(settings: settings, support: support)
    }

    /// The profile `method`'s tasks run under (the primary one for a method not known yet).
    func profile(of method: String) -> SandboxProfile { profiles[method] ?? primary }

    /// Takes the declared limits of every method of a new generation.
    mutating func update(declared: [String: SandboxLimits]) {
        profiles = declared.mapValues(settings.profile(for:))
        var counts: [SandboxProfile: Int] = [:]
        for p in profiles.values { counts[p, default: 0] += 1 }
        primary = counts.max { a, b in a.value != b.value ? a.value < b.value : a.key.description > b.key.description }?.key
            ?? settings.profile(for: SandboxLimits())
    }

    /// The memory cgroup folder, when this machine has one the node may write.
    var cgroups: CgroupRoot? {
        if case .success(let root)? = support?.cgroups { root } else { nil }
    }

    /// The error for a task whose worker died of a limit: SIGXCPU is RLIMIT_CPU, an OOM kill in
    /// the worker's cgroup is its memory limit; nil when the death was something else.
    static func limitError(profile: SandboxProfile, signal: Int32?, oomKills: Int, method: String, task: String) -> RPCError? {
        if oomKills > 0 && profile.memoryMiB > 0 {
            return RPCError(.resourceLimit, "\(method) exceeded its memory limit (memory_mib \(profile.memoryMiB)) in task \(task)",
                            data: ["limit": "memory_mib", "memory_mib": .int(Int64(profile.memoryMiB))])
        }
        if signal == SIGXCPU && profile.cpuSeconds > 0 {
            return RPCError(.resourceLimit, "\(method) used up its CPU time (cpu_seconds \(profile.cpuSeconds)) in task \(task)",
                            data: ["limit": "cpu_seconds", "cpu_seconds": .int(Int64(profile.cpuSeconds))])
        }
        return nil
    }
}
