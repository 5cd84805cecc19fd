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

    /// Checks the kernel (and makes the node's cgroup folder when it can). A mechanism named in
    /// `forcedOff` counts as missing whatever the kernel offers.
    static func detect(forcedOff: Set<String> = forcedOff) -> SandboxSupport {
        SandboxSupport(
            landlockABI: forcedOff.contains("landlock") ? 0 : Int32(zt_landlock_abi()),
            seccomp: !forcedOff.contains("seccomp") && zt_seccomp_available() == 0,
            cgroups: forcedOff.contains("cgroup") ? .failure(CgroupError("forced off by \(forceOffVariable)")) : CgroupRoot.create())
    }

    /// The test-only environment variable that makes mechanisms count as missing
    /// (`landlock,seccomp,cgroup`), so that what stands in for each is tested on a kernel that has
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
            lines.append(("memory cgroup", true, "no writable memory cgroup (\(why)): memory_mib is RLIMIT_DATA (allocations past it fail in the plugin); the processes of a worker the node kills are found beneath it in /proc and killed, those of a worker that crashes are not"))
        }
        lines.append(("rlimits", false, "RLIMIT_CPU: cpu_seconds per task; PR_SET_CHILD_SUBREAPER: processes a task leaves are killed when it ends; processes above 0 are not counted (no pids cgroup is used, and RLIMIT_NPROC counts the user's processes, not one worker's)"))
        return lines
    }

    /// The mechanisms that are missing, by name.
    public var missing: [String] { report.filter(\.missing).map(\.mechanism) }
}
