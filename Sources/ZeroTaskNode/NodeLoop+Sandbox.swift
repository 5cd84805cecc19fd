import Logging
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The sandbox in the node's loop: saying once what the kernel offers, starting each worker
/// with the profile its tasks need, and telling a limit from a crash.
///
/// Pool policy: a task goes to a ready worker of its method's profile only (`worker(for:)`).
/// New workers take the profile a waiting task lacks a worker for, else the primary one; when a
/// task waits for a profile no worker has and a worker of another profile is idle, that worker
/// is replaced. With every method on one profile (the example plugins) this is the old pool.
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

    /// The profile the next worker should have.
    func profileToStart() -> SandboxProfile { profileLackingWorker() ?? sandbox.primary }

    /// The profile of a waiting task that no worker (ready or starting) has.
    func profileLackingWorker() -> SandboxProfile? {
        for a in waiting {
            let p = sandbox.profile(of: a.method)
            if !workers.contains(where: { !$0.isExiting && $0.generation == snapshot.generation && $0.profile == p }) { return p }
        }
        return nil
    }

    /// Replaces an idle worker of another profile when a waiting task has no worker of its own
    /// (the pool is full: `ensureWorkers` starts the replacement once this one is gone).
    func replaceIdleWorkerForWaiting() {
        // Cheap test first: this runs on every turn with tasks waiting, which is usually because
        // every worker is busy.
        guard case .running = phase, workers.contains(where: \.isIdle), let needed = profileLackingWorker(),
            let idle = workers.first(where: { $0.isIdle && $0.profile != needed })
        else { return }
        logger.debug("worker \(idle.id) makes way for one with \(needed)")
        stopWorker(idle)
    }

    /// The worker's `--sandbox` arguments, and the cgroup made for it.
    func sandboxArguments(worker id: Int, profile: SandboxProfile) -> ([String], WorkerCgroup?) {
        guard sandbox.support != nil else { return ([], nil) }
        var args = ["--sandbox", profile.json.jsonString]
        guard let root = sandbox.cgroups else { return (args, nil) }
        switch root.worker(id, limitMiB: profile.memoryMiB) {
        case .success(let cg):
            args += ["--cgroup", cg.path]
            return (args, cg)
        case .failure(let why):
            logger.warning("worker \(id): no memory cgroup (\(why)); memory_mib falls back to RLIMIT_DATA")
            return (args, nil)
        }
    }

    /// The limit a dead worker's task hit, if that is what ended it.
    func limitError(_ w: Worker, _ how: ProcessExit, _ t: Worker.QueuedTask) -> RPCError? {
        var signal: Int32?
        if case .signaled(let s) = how { signal = s }
        return NodeSandbox.limitError(profile: w.profile, signal: signal, oomKills: w.cgroup?.oomKills ?? 0,
                                      method: t.assignment.method, task: t.assignment.id)
    }

    /// Takes the declared limits of the generation's plugins (from their probes).
    func updateProfiles(_ outcomes: [String: ProbeOutcome]) {
        var declared: [String: SandboxLimits] = [:]
        for case .passed(_, _, let limits) in outcomes.values { declared.merge(limits) { a, _ in a } }
        sandbox.update(declared: declared)
        let profiles = Set(sandbox.profiles.values)
        if sandbox.support != nil {
            logger.info("sandbox: \(profiles.count) worker profile\(profiles.count == 1 ? "" : "s"); primary: \(sandbox.primary)")
        }
    }
}
