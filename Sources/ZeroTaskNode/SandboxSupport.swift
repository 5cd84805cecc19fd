#if canImport(Glibc)
import Glibc
#endif
import CSandbox
import Foundation

/// Which of the kernel's sandbox mechanisms this machine offers, checked once when a node starts.
public struct SandboxSupport: Sendable {
    /// The Landlock ABI (0: missing) — files.
    public var landlockABI: Int32
    /// seccomp filters — `processes: 0` and `network: false`.
    public var seccomp: Bool
    /// The memory cgroup the node makes its workers' cgroups in, or why there is none.
    var cgroups: Result<CgroupRoot, CgroupError>
    /// The pids cgroup the node makes its workers' cgroups in (on v2 the memory cgroup's folder),
    /// or why there is none.
    var pids: Result<CgroupRoot, CgroupError>
    /// Whether this process is a child subreaper (`NodeProcess.becomeSubreaper`): the processes
    /// of a worker that dies come back to it, to be killed and reaped.
    var subreaper: Bool

    init(landlockABI: Int32, seccomp: Bool, cgroups: Result<CgroupRoot, CgroupError>,
         pids: Result<CgroupRoot, CgroupError> = .failure(CgroupError("not looked for")), subreaper: Bool = false) {
        self.landlockABI = landlockABI
        self.seccomp = seccomp
        self.cgroups = cgroups
        self.pids = pids
        self.subreaper = subreaper
    }

    /// Checks the kernel (and makes the node's cgroup folders when it can). A mechanism named in
    /// `forcedOff` counts as missing whatever the kernel offers (`cgroup`: memory and pids).
    static func detect(forcedOff: Set<String> = forcedOff) -> SandboxSupport {
        let off = CgroupError("forced off by \(forceOffVariable)")
        let memory = forcedOff.contains("cgroup") ? .failure(off) : CgroupRoot.create("memory")
        let pids = forcedOff.contains("cgroup") || forcedOff.contains("pids") ? .failure(off) : CgroupRoot.create("pids", sharing: try? memory.get())
        return SandboxSupport(
            landlockABI: forcedOff.contains("landlock") ? 0 : Int32(zt_landlock_abi()),
            seccomp: !forcedOff.contains("seccomp") && zt_seccomp_available() == 0,
            cgroups: memory, pids: pids, subreaper: NodeProcess.isSubreaper)
    }

    /// The cgroup folders the node made (one on v2, where memory and pids share it), for removal.
    var cgroupRoots: [CgroupRoot] {
        var roots: [CgroupRoot] = []
        for case .success(let root) in [cgroups, pids] where !roots.contains(where: { $0.path == root.path }) { roots.append(root) }
        return roots
    }

    /// The test-only environment variable that makes mechanisms count as missing
    /// (`landlock,seccomp,cgroup,pids`), so that what stands in for each is tested on a kernel that has
    /// them all. The worker reads it too (it inherits the node's environment), so that it applies
    /// what the node reported.
    static let forceOffVariable = "ZEROTASK_TEST_SANDBOX_OFF"

    /// The mechanisms `forceOffVariable` names.
    static var forcedOff: Set<String> {
        guard let v = getenv(forceOffVariable) else { return [] }
        return Set(String(cString: v).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// Whether this process may use Landlock (offered by the kernel and not forced off).
    static var landlockUsable: Bool { !forcedOff.contains("landlock") && zt_landlock_abi() > 0 }
    /// Whether this process may use seccomp (offered by the kernel and not forced off).
    static var seccompUsable: Bool { !forcedOff.contains("seccomp") && zt_seccomp_available() == 0 }

    /// One line per mechanism: what it enforces here, or what is missing and what stands in for it.
    public var report: [(mechanism: String, missing: Bool, text: String)] {
        var lines: [(String, Bool, String)] = []
        lines.append(landlockABI > 0
            ? ("landlock", false, "Landlock ABI \(landlockABI): files limited to the declared read/write paths"
                + (landlockABI >= 4 ? "; TCP bind and connect refused under network: false (a second layer under seccomp)" : "; no network rules (ABI < 4): network: false rests on seccomp alone"))
            : ("landlock", true, "Landlock is missing: plugins can read and write any file the node can"))
        lines.append(seccomp
            ? ("seccomp", false, "seccomp: processes: 0 and network: false enforced")
            : ("seccomp", true, "seccomp is missing: processes: 0 and network: false are not enforced"))
        switch cgroups {
        case .success(let root):
            lines.append(("memory cgroup", false, "memory cgroup v\(root.version) (\(root.path)): memory_mib ends a task that exceeds it; a dead worker's processes are found and killed"))
        case .failure(let why):
            lines.append(("memory cgroup", true, "no writable memory cgroup (\(why)): memory_mib is RLIMIT_DATA (allocations past it fail in the plugin); the processes of a worker the node kills are found beneath it in /proc and killed"))
        }
        switch pids {
        case .success(let root):
            lines.append(("pids cgroup", false, "pids cgroup v\(root.version) (\(root.path)): processes: N holds a plugin to N live processes and threads of its own (fork fails with EAGAIN past them)"))
        case .failure(let why):
            lines.append(("pids cgroup", true, "no writable pids cgroup (\(why)): processes above 0 are not counted (RLIMIT_NPROC counts the user's processes, not one worker's, so it cannot stand in; seccomp enforces processes: 0 only)"))
        }
        let swept = (try? cgroups.get()) != nil || (try? pids.get()) != nil
        lines.append(subreaper
            ? ("subreaper", false, "the node is a child subreaper: the processes of a worker that dies on its own (a crash) come back to it and are killed")
            : ("subreaper", !swept, "the node process is not a child subreaper (its host did not make it one): "
                + (swept ? "the processes of a worker that crashes are killed through its cgroup" : "the processes of a worker that crashes are not killed")))
        lines.append(("rlimits", false, "RLIMIT_CPU: cpu_seconds per task; PR_SET_CHILD_SUBREAPER in each worker: processes a task leaves are killed when it ends"))
        return lines
    }

    /// The mechanisms that are missing, by name.
    public var missing: [String] { report.filter(\.missing).map(\.mechanism) }
}
