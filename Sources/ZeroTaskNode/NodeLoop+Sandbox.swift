import Foundation
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

    /// The worker's `--sandbox` (and `--cgroup`) arguments for `spec`, and the cgroups made for it:
    /// memory (with `memory_mib`), and pids for a profile with `processes` above 0 (until the
    /// worker is ready, its own threads get `pidsStartAllowance` tasks besides; `limitProcesses`).
    func sandboxArguments(for spec: WorkerSpec) -> ([String], WorkerCgroups) {
        guard sandbox.support != nil else { return ([], WorkerCgroups()) }
        let args = ["--sandbox", spec.profile.json.jsonString]
        var cgroups = WorkerCgroups()
        if let root = sandbox.cgroups {
            switch root.worker(spec.id, limitMiB: spec.profile.memoryMiB) {
            case .success(let cg): cgroups.memory = cg
            case .failure(let why): logger.warning("worker \(spec.id): no memory cgroup (\(why)); memory_mib falls back to RLIMIT_DATA")
            }
        }
        if let root = sandbox.pids, let n = spec.profile.processes, n > 0 {
            switch root.worker(spec.id, maxTasks: n + Self.pidsStartAllowance) {
            case .success(let cg): (cgroups.pids, cgroups.processes) = (cg, n)
            case .failure(let why): logger.warning("worker \(spec.id): no pids cgroup (\(why)); processes: \(n) is not counted")
            }
        }
        return (cgroups.isEmpty ? args : args + ["--cgroup", cgroups.argument], cgroups)
    }

    /// Tasks a worker's own threads may take in its pids cgroup while it loads its plugins.
    static let pidsStartAllowance = 64

    /// Once the worker is ready: its pids cgroup allows the threads it has now (its own, and
    /// those its plugins' `init` started) plus `processes`, so that the plugin's N+1th live
    /// process fails to start (EAGAIN). Before any task: the machine sends tasks only after this.
    func limitProcesses(_ h: WorkerHandle) {
        guard let pids = h.cgroups.pids else { return }
        let threads = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(h.process.pid)/task")) ?? []).count
        if let e = pids.limitTasks(max(1, threads) + h.cgroups.processes) {
            logger.warning("worker \(h.id): cannot set \(pids.path)/pids.max (\(e)); processes: \(h.cgroups.processes) is not counted")
        }
    }

    /// Kills and reaps a worker the node ends (deadline, cancel, stop), with every process its
    /// plugins started. With a cgroup those are swept when it is removed; without one (sandbox
    /// on) they are found beneath the worker in `/proc` and killed first, while they are still
    /// its descendants (`ProcessTree`).
    func killAndReap(_ h: WorkerHandle) -> ProcessExit {
        if sandbox.support != nil && h.cgroups.isEmpty {
            let swept = ProcessTree.stopAndKillDescendants(of: h.process.pid)
            if !swept.isEmpty { logger.debug("worker \(h.id): killed \(swept.count) process(es) its plugins left") }
        }
        return h.process.killAndReap()
    }

    /// After a worker or a probe has ended: with the node a child subreaper, whatever it left
    /// running came back to the node (`setsid` or not, crash or not); every child of the node that
    /// is no live worker or probe is such an orphan, and is killed with its descendants and reaped.
    /// A worker's own processes stay beneath it while it lives (it is their subreaper).
    func sweepOrphans() {
        guard let support = sandbox.support, support.subreaper else { return }
        var known = Set(handles.map(\.process.pid))
        for p in pendingGeneration?.probes ?? [] { known.insert(p.process.pid) }
        let swept = ProcessTree.killAndReapOrphans(keeping: known)
        if !swept.isEmpty { logger.debug("killed \(swept.count) process(es) left by a worker or probe that ended") }
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
