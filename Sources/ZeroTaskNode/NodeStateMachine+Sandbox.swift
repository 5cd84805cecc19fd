import Logging
import ZeroTaskPlugins

/// The sandbox's pool policy. A worker applies its profile to itself for good, so it serves the
/// methods of that profile only (`worker(for:now:)`). New workers take the profile a waiting
/// task lacks a worker for, else the primary one; when a task waits for a profile no worker has
/// and a worker of another profile is idle, that worker is replaced. With every method on one
/// profile (the example plugins) this is the pool without profiles.
extension NodeStateMachine {
    /// Takes the declared limits of a new generation's methods.
    func takeProfiles(_ limits: [String: SandboxLimits]) {
        sandbox.update(declared: limits)
        if config.sandbox.enabled {
            logger.info("sandbox: \(sandbox.count) worker profile\(sandbox.count == 1 ? "" : "s"); primary: \(sandbox.primary)")
        }
    }

    /// The profile the next worker should have.
    func profileToStart() -> SandboxProfile { profileLackingWorker() ?? sandbox.primary }

    /// The profile of a waiting task that no worker of the current generation (ready or
    /// starting) has.
    func profileLackingWorker() -> SandboxProfile? {
        for a in waiting {
            let p = sandbox.profile(of: a.method)
            if !workers.contains(where: { !$0.isExiting && $0.generation == generation && $0.profile == p }) { return p }
        }
        return nil
    }

    /// Replaces an idle worker of another profile when a waiting task has no worker of its own
    /// (the pool is full: `ensureWorkers` starts the replacement once this one is exiting).
    /// Called by `schedule` while running.
    func replaceIdleWorkerForWaiting() {
        // Cheap test first: this runs on every turn with tasks waiting, which is usually because
        // every worker is busy.
        guard workers.contains(where: \.isIdle), let needed = profileLackingWorker(),
            let idle = workers.first(where: { $0.isIdle && $0.profile != needed })
        else { return }
        logger.debug("worker \(idle.id) makes way for one with \(needed)")
        stopWorker(idle)
    }
}
