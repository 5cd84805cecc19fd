#if canImport(Glibc)
import Glibc
#endif
import CSandbox

/// Which of the kernel's sandbox mechanisms this machine offers, checked once when a node starts.
public struct SandboxSupport: Sendable {
    /// The Landlock ABI (0: missing) — files.
    public var landlockABI: Int32
    /// seccomp filters — `processes: 0` and `network: false`.
    public var seccomp: Bool
    /// The memory cgroup the node makes its workers' cgroups in, or why there is none.
    var cgroups: Result<CgroupRoot, CgroupError>

    /// Checks the kernel (and makes the node's cgroup folder when it can).
    static func detect() -> SandboxSupport {
        SandboxSupport(landlockABI: Int32(zt_landlock_abi()), seccomp: zt_seccomp_available() == 0, cgroups: CgroupRoot.create())
    }

    /// One line per mechanism: what it enforces here, or what is missing and what stands in for it.
    public var report: [(mechanism: String, missing: Bool, text: String)] {
        var lines: [(String, Bool, String)] = []
        lines.append(landlockABI > 0
            ? ("landlock", false, "Landlock ABI \(landlockABI): files limited to the declared read/write paths")
            : ("landlock", true, "Landlock is missing: plugins can read and write any file the node can"))
        lines.append(seccomp
            ? ("seccomp", false, "seccomp: processes: 0 and network: false enforced")
            : ("seccomp", true, "seccomp is missing: processes: 0 and network: false are not enforced"))
        switch cgroups {
        case .success(let root):
            lines.append(("memory cgroup", false, "memory cgroup v\(root.version) (\(root.path)): memory_mib ends a task that exceeds it; a dead worker's processes are found and killed"))
        case .failure(let why):
            lines.append(("memory cgroup", true, "no writable memory cgroup (\(why)): memory_mib is RLIMIT_DATA (allocations past it fail in the plugin), and processes a killed worker leaves are not swept"))
        }
        lines.append(("rlimits", false, "RLIMIT_CPU: cpu_seconds per task; PR_SET_CHILD_SUBREAPER: processes a task leaves are killed when it ends"))
        return lines
    }

    /// The mechanisms that are missing, by name.
    public var missing: [String] { report.filter(\.missing).map(\.mechanism) }
}
