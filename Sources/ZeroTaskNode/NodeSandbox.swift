/// The loop's side of the sandbox: what this machine offers, checked once when the node starts,
/// and the folder the workers' memory cgroups are made in. Which profile a worker gets is the
/// state machine's (`SandboxProfiles`); the worker applies it to itself (`WorkerSandbox`).
struct NodeSandbox {
    /// Checked once at start; nil with the sandbox off.
    let support: SandboxSupport?

    /// Checks the kernel (when the sandbox is on) with `detect`.
    /// - Throws: `NodeStartError.sandboxMissing` when `settings.required` and a mechanism is missing.
    static func start(_ settings: SandboxSettings, detect: () -> SandboxSupport = { SandboxSupport.detect() }) throws(NodeStartError) -> NodeSandbox {
        let support = settings.enabled ? detect() : nil
        if settings.required, let missing = support?.missing, !missing.isEmpty {
            for root in support?.cgroupRoots ?? [] { root.remove() }
            throw .sandboxMissing(missing)
        }
        return NodeSandbox(support: support)
    }

    /// The memory cgroup folder, when this machine has one the node may write.
    var cgroups: CgroupRoot? {
        if case .success(let root)? = support?.cgroups { root } else { nil }
    }

    /// The pids cgroup folder (on v2 the memory one), when this machine has one the node may write.
    var pids: CgroupRoot? {
        if case .success(let root)? = support?.pids { root } else { nil }
    }

    /// Removes the node's cgroup folders with what runs in them.
    func removeCgroups() {
        for root in support?.cgroupRoots ?? [] { root.remove() }
    }
}
