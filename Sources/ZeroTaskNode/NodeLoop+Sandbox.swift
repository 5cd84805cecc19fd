import Logging

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
}
