import Logging
import ZeroTaskPlugins

/// The sandbox's I/O in the node's loop: saying once what the kernel offers, and the arguments
/// and memory cgroup a worker starts with. Which profile a worker gets, which worker may take a
/// task and which limit a dead worker hit are the state machine's (`NodeStateMachine+Sandbox`).
extension NodeLoop {
    /// Logs, once at start, what each mechanism enforces here or that it is missing.
    func logSandboxSupport() {
        guard let support = sandbox.support else {
            logger.warning("sandbox off (node.sandbox: false): plugins run with the node's own rights")
            return
        }
        for line in support.report {
            if line.missing { logger.warning("sandbox: \(line.text)") } else { logger.info("sandbox: \(line.text)") }
        }
    }

    /// The worker's `--sandbox` (and `--cgroup`) arguments for `spec`, and the cgroup made for it.
    func sandboxArguments(for spec: WorkerSpec) -> ([String], WorkerCgroup?) {
        guard sandbox.support != nil else { return ([], nil) }
        let args = ["--sandbox", spec.profile.json.jsonString]
        guard let root = sandbox.cgroups else { return (args, nil) }
        switch root.worker(spec.id, limitMiB: spec.profile.memoryMiB) {
        case .success(let cg):
            return (args + ["--cgroup", cg.path], cg)
        case .failure(let why):
            logger.warning("worker \(spec.id): no memory cgroup (\(why)); memory_mib falls back to RLIMIT_DATA")
            return (args, nil)
        }
    }

    /// Kills and reaps a worker the node ends (deadline, cancel, stop), with every process its
    /// plugins started. With a cgroup those are swept when it is removed; without one (sandbox
    /// on) they are found beneath the worker in `/proc` and killed first, while they are still
    /// its descendants (`ProcessTree`).
    func killAndReap(_ h: WorkerHandle) -> ProcessExit {
        if sandbox.support != nil && h.cgroup == nil {
            let swept = ProcessTree.stopAndKillDescendants(of: h.process.pid)
            if !swept.isEmpty { logger.debug("worker \(h.id): killed \(swept.count) process(es) its plugins left") }
        }
        return h.process.killAndReap()
    }

    /// The probe's `--sandbox`: the profile of a plugin that declares nothing (the node's
    /// defaults under its caps). A plugin's constructors and `init` run in every worker that
    /// loads it, whatever the worker's profile, so they may count on no more than that; the
    /// probe holds them to it before any worker starts. No memory cgroup: `RLIMIT_DATA`.
    var probeSandboxArguments: [String] {
        guard sandbox.support != nil else { return [] }
        return ["--sandbox", config.sandbox.profile(for: SandboxLimits()).json.jsonString]
    }
}
