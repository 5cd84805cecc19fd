#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// The folder of cgroups a node makes for its workers (`zerotask-PID-N`) for one controller,
/// `memory` or `pids`, in cgroup v2 or in v1's hierarchy of that controller, whichever this
/// machine lets the node write.
///
/// A memory cgroup per worker holds the worker's memory to `memory_mib` during a task (the
/// kernel's OOM killer ends the worker, and its OOM count says so); a pids cgroup holds its
/// plugins to `processes` live processes (`fork` fails with EAGAIN past it). Either names every
/// process the worker's plugins started, so that a dead worker's `setsid` children are found
/// and killed. On v2 both controllers share one folder (a process is in one v2 cgroup only).
struct CgroupRoot: Sendable {
    private static let nodesInProcess = Atomic<Int>(0)

    /// `…/zerotask-PID-N` (N: nodes in one process — tests run several — get folders of their own).
    let path: String
    /// 1 or 2.
    let version: Int
    /// `memory` or `pids`.
    let controller: String

    /// Makes the node's folder for `controller`, or says why it cannot (the reason is logged
    /// once at start). On v2, a folder made for another controller (`sharing`) takes this one
    /// too, rather than a second folder a worker could not be in at the same time.
    static func create(_ controller: String = "memory", sharing: CgroupRoot? = nil) -> Result<CgroupRoot, CgroupError> {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        let membership = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        var reasons: [CgroupError] = []
        if let shared = sharing, shared.version == 2 {
            let parent = (shared.path as NSString).deletingLastPathComponent
            switch enable(controller, in: parent) ?? enable(controller, in: shared.path) {
            case nil: return .success(CgroupRoot(path: shared.path, version: 2, controller: controller))
            case let why?: reasons.append(why)
            }
        }
        for version in [2, 1] where sharing?.version != 2 || version == 1 {
            guard let (mount, own) = hierarchy(controller, version: version, mounts: mounts, membership: membership) else { continue }
            // The node's own cgroup first; the hierarchy's root next (exempt from v2's rule that a
            // cgroup with processes cannot hand controllers to its children).
            for parent in Set([mount + own, mount]).sorted(by: { $0.count > $1.count }) {
                switch make(controller, in: parent, version: version) {
                case .success(let root): return .success(root)
                case .failure(let why): reasons.append(why)
                }
            }
        }
        return .failure(CgroupError(reasons.isEmpty ? "no \(controller) cgroup hierarchy is mounted" : reasons.map(\.description).joined(separator: "; ")))
    }

    /// Hands `controller` to the children of the v2 cgroup `parent`; the error, or nil.
    private static func enable(_ controller: String, in parent: String) -> CgroupError? {
        let controllers = (try? String(contentsOfFile: parent + "/cgroup.controllers", encoding: .utf8)) ?? ""
        guard controllers.split(whereSeparator: \.isWhitespace).contains(Substring(controller)) else {
            return CgroupError("\(parent): no \(controller) controller (cgroup v2)")
        }
        if let e = write("+" + controller, to: parent + "/cgroup.subtree_control") { return CgroupError("\(parent)/cgroup.subtree_control: \(e)") }
        return nil
    }

    /// The mount point and the node's path in the v1 hierarchy of `controller` or the v2 hierarchy.
    private static func hierarchy(_ controller: String, version: Int, mounts: String, membership: String) -> (String, String)? {
        for line in mounts.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " "), right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 3 else { continue }
            let isMatch = version == 2 ? right[0] == "cgroup2" : right[0] == "cgroup" && right[2].split(separator: ",").contains(Substring(controller))
            guard isMatch else { continue }
            let root = String(left[3]), mount = String(left[4])
            for entry in membership.split(separator: "\n") {
                let f = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard f.count == 3 else { continue }
                let mine = version == 2 ? f[0] == "0" && f[1].isEmpty : f[1].split(separator: ",").contains(Substring(controller))
                guard mine else { continue }
                var own = String(f[2])
                if root != "/" && own.hasPrefix(root) { own = String(own.dropFirst(root.count)) }
                return (mount, own == "/" ? "" : own)
            }
        }
        return nil
    }

    private static func make(_ controller: String, in parent: String, version: Int) -> Result<CgroupRoot, CgroupError> {
        if version == 2, let why = enable(controller, in: parent) { return .failure(why) }
        removeStale(in: parent, version: version)
        let path = parent + "/zerotask-\(getpid())-\(nodesInProcess.add(1, ordering: .relaxed).newValue)"
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { return .failure(CgroupError("\(path): \(String(cString: strerror(errno)))")) }
        if version == 2, let why = enable(controller, in: path) {
            rmdir(path)
            return .failure(why)
        }
        return .success(CgroupRoot(path: path, version: version, controller: controller))
    }

    /// A memory cgroup for worker `id` holding it to `limitMiB` (0: no limit, membership only).
    func worker(_ id: Int, limitMiB: Int) -> Result<WorkerCgroup, CgroupError> {
        guard limitMiB > 0 else { return worker(id, settings: []) }
        let bytes = "\(limitMiB << 20)"
        return worker(id, settings: version == 2 ? [("memory.max", bytes), ("memory.swap.max", "0")] : [("memory.limit_in_bytes", bytes)])
    }

    /// A pids cgroup for worker `id` holding it to `max` tasks, the worker's own threads among them
    /// (tightened once the worker is ready: `WorkerCgroup.limitTasks`).
    func worker(_ id: Int, maxTasks max: Int) -> Result<WorkerCgroup, CgroupError> {
        worker(id, settings: [("pids.max", "\(max)")])
    }

    private func worker(_ id: Int, settings: [(String, String)]) -> Result<WorkerCgroup, CgroupError> {
        let cg = WorkerCgroup(path: path + "/w\(id)", version: version)
        guard mkdir(cg.path, 0o755) == 0 || errno == EEXIST else { return .failure(CgroupError("\(cg.path): \(String(cString: strerror(errno)))")) }
        for (file, value) in settings {
            // memory.swap.max is missing without swap accounting: nothing to turn off then.
            if let e = Self.write(value, to: cg.path + "/" + file), file != "memory.swap.max" {
                cg.remove()
                return .failure(CgroupError("\(cg.path)/\(file): \(e)"))
            }
        }
        return .success(cg)
    }

    /// Removes the node's folder with every worker cgroup left in it, and what runs there.
    func remove() {
        Self.remove(path, version: version)
    }

    private static func remove(_ path: String, version: Int) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix("w") {
            WorkerCgroup(path: path + "/" + name, version: version).remove()
        }
        rmdir(path)
    }

    /// Removes the folders of nodes that are gone (killed before they could clean up).
    private static func removeStale(in parent: String, version: Int) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix("zerotask-") {
            let owner = name.dropFirst("zerotask-".count).split(separator: "-").first.flatMap { pid_t($0) }
            guard let pid = owner, pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            remove(parent + "/" + name, version: version)
        }
    }

    /// Writes `text` to a cgroup file; the error text, or nil.
    static func write(_ text: String, to file: String) -> String? {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return Glibc.write(fd, bytes, bytes.count) == bytes.count ? nil : String(cString: strerror(errno))
    }
}

/// One worker's cgroup.
struct WorkerCgroup: Sendable {
    let path: String
    let version: Int

    /// How many times the kernel's OOM killer ended a process here (the memory limit was hit).
    var oomKills: Int {
        let file = path + (version == 2 ? "/memory.events" : "/memory.oom_control")
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2 && f[0] == "oom_kill" { return Int(f[1]) ?? 0 }
        }
        return 0
    }

    /// Sets `pids.max`: no fork or thread start past `max` tasks in the cgroup. The error, or nil.
    func limitTasks(_ max: Int) -> String? {
        CgroupRoot.write("\(max)", to: path + "/pids.max")
    }

    /// Kills every process left in it (a dead worker's plugins' children, `setsid` or not) and
    /// removes it. Processes forking while this runs are caught on the next pass.
    func remove() {
        for _ in 0..<100 {
            let procs = ((try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? "")
                .split(separator: "\n").compactMap { pid_t($0) }
            if procs.isEmpty && (rmdir(path) == 0 || errno == ENOENT) { return }
            for pid in procs { kill(pid, SIGKILL) }
            usleep(1000)
        }
    }
}

/// Why the node cannot give workers memory cgroups.
struct CgroupError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The cgroups the node made for one worker: memory (its OOM count tells a memory limit from a
/// crash) and pids (`processes` counted), one folder or two (on v2 they share one).
struct WorkerCgroups: Sendable {
    var memory: WorkerCgroup?
    var pids: WorkerCgroup?
    /// The worker's `processes` (above 0 when `pids` is set): its pids cgroup allows the worker's
    /// own threads plus this many once it is ready.
    var processes = 0

    /// Each folder once.
    var all: [WorkerCgroup] {
        var out: [WorkerCgroup] = []
        for case let cg? in [memory, pids] where !out.contains(where: { $0.path == cg.path }) { out.append(cg) }
        return out
    }

    var isEmpty: Bool { memory == nil && pids == nil }

    /// The OOM kills in the memory cgroup (0 without one).
    var oomKills: Int { memory?.oomKills ?? 0 }

    /// The worker's `--cgroup` argument: the folders it joins, `:`-separated.
    var argument: String { all.map(\.path).joined(separator: ":") }

    /// Kills what is left in them and removes them.
    func remove() { for cg in all { cg.remove() } }
}
