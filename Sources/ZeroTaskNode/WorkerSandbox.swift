#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import CSandbox
import ZeroTaskProtocol
import Foundation

/// What a worker does to itself to keep its plugins inside their `SandboxProfile`.
///
/// Applied once, before the worker loads plugins, and for good (none of it can be undone):
/// the worker joins its memory cgroup (or caps its data segment), becomes the reaper of every
/// orphan it leaves, forbids `fork` and non-local sockets with seccomp where the profile says so,
/// and restricts files with Landlock to the declared paths plus what loading needs. Per task it
/// moves the CPU limit on (a clock read, a system call at most every 0.25 s) and, where the
/// profile allows processes, kills what the task left behind.
struct WorkerSandbox {
    let profile: SandboxProfile

    /// What loading plugins and running the worker need to read besides the declared paths:
    /// libraries and the loader's cache, time zones (log timestamps), the worker's own /proc
    /// entry (its resident size), CPU topology, and the usual character devices.
    static let loadingPaths = [
        "/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache", "/etc/localtime",
        "/usr/share/zoneinfo", "/proc/self", "/sys/devices/system/cpu", "/dev/zero", "/dev/urandom",
    ]

    /// A mechanism the profile needs failed to apply.
    struct Failure: Error, CustomStringConvertible {
        var mechanism: String
        var code: Int32
        var description: String { "sandbox: \(mechanism) failed: \(String(cString: strerror(code)))" }
    }

    /// Applies `profile` to this process. `pluginsDir` is readable (the libraries are there);
    /// `cgroup`, the folders the node made for this worker (`:`-separated: memory, pids), are
    /// joined and hold the memory and process limits.
    /// Returns the declared paths that do not exist (skipped), for the caller to log.
    static func apply(_ profile: SandboxProfile, pluginsDir: String, cgroup: String?) throws(Failure) -> (WorkerSandbox, [String]) {
        let sandbox = WorkerSandbox(profile: profile)
        guard !profile.isUnrestricted else { return (sandbox, []) }
        // The cgroups the node made for this worker (memory, pids: `:`-separated).
        let cgroups = (cgroup ?? "").split(separator: ":").map(String.init)
        for dir in cgroups {
            let fd = open(dir + "/cgroup.procs", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure(mechanism: "joining \(dir)", code: errno) }
            let text = Array("\(getpid())\n".utf8)
            let n = write(fd, text, text.count)
            let code = errno
            close(fd)
            guard n == text.count else { throw Failure(mechanism: "joining \(dir)", code: code) }
        }
        let memoryCgroup = cgroups.contains { access($0 + "/memory.max", F_OK) == 0 || access($0 + "/memory.limit_in_bytes", F_OK) == 0 }
        if !memoryCgroup && profile.memoryMiB > 0 {
            // No memory cgroup: allocations past the limit fail (ENOMEM) instead of ending the task.
            try setLimit(RLIMIT_DATA, UInt(profile.memoryMiB) << 20, "RLIMIT_DATA")
        }
        if zt_set_child_subreaper() != 0 { throw Failure(mechanism: "PR_SET_CHILD_SUBREAPER", code: errno) }
        if zt_no_new_privs() != 0 { throw Failure(mechanism: "PR_SET_NO_NEW_PRIVS", code: errno) }
        var missing: [String] = []
        if SandboxSupport.landlockUsable {
            let read = loadingPaths + [pluginsDir] + profile.read
            let write = ["/dev/null"] + profile.write
            var flags = [UInt8](repeating: 0, count: read.count + write.count)
            let cRead = read.map { strdup($0) }, cWrite = write.map { strdup($0) }
            defer { for p in cRead + cWrite { free(p) } }
            let rc = cRead.map { UnsafePointer($0) }.withUnsafeBufferPointer { r in
                cWrite.map { UnsafePointer($0) }.withUnsafeBufferPointer { w in
                    zt_landlock_restrict(r.baseAddress, r.count, w.baseAddress, w.count, profile.network ? 0 : 1, &flags)
                }
            }
            guard rc == 0 else { throw Failure(mechanism: "Landlock", code: rc) }
            let declared = Set(profile.read + profile.write)
            missing = zip(read + write, flags).filter { $0.1 != 0 && declared.contains($0.0) }.map(\.0)
        }
        let denyProcesses = profile.processes == 0, denyNetwork = !profile.network
        if (denyProcesses || denyNetwork) && SandboxSupport.seccompUsable {
            let rc = zt_seccomp_install(denyProcesses ? 1 : 0, denyNetwork ? 1 : 0)
            guard rc == 0 else { throw Failure(mechanism: "seccomp", code: rc) }
        }
        return (sandbox, missing)
    }

    /// When the CPU limit was last moved on (monotonic seconds).
    private var cpuCheckedAt = MonotonicInstant.distantPast

    /// How often, at most, the CPU limit is moved on: system calls cost about a microsecond each
    /// on these VMs, several per task would cost fast tasks a fifth of their speed.
    static let cpuCheckInterval = 0.25
    /// Slack above `cpu_seconds` that covers what the process may use between two checks (up to
    /// four busy threads for `cpuCheckInterval`).
    static let cpuSlack = 1

    /// Before a task. RLIMIT_CPU counts the whole process, so its soft limit is moved on to the
    /// CPU time used so far plus `cpu_seconds` and a slack, at most every `cpuCheckInterval`
    /// (one clock read otherwise): a task gets between `cpu_seconds` and about a second more
    /// before SIGXCPU ends the worker.
    mutating func taskStarts() {
        guard profile.cpuSeconds > 0 else { return }
        let now = MonotonicInstant.now()
        guard now - cpuCheckedAt >= Self.cpuCheckInterval else { return }
        cpuCheckedAt = now
        var used = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used)
        // Whole seconds, rounded up.
        try? Self.setLimit(RLIMIT_CPU, UInt(used.tv_sec) + 1 + UInt(profile.cpuSeconds + Self.cpuSlack), "RLIMIT_CPU")
    }

    /// After a task: every process it started is killed, `setsid` or not. The worker reaps every
    /// orphan among its descendants (a subreaper), so a daemon's grandchild comes back to it too.
    /// Under `processes: 0` there can be none (seccomp refuses fork): nothing to do.
    func taskEnded() {
        guard !profile.isUnrestricted, profile.processes != 0 else { return }
        Self.killDescendants()
    }

    /// Kills and reaps children until there are none (one `waitpid` when there are none already).
    static func killDescendants() {
        let all = Int32(0x4000_0000)  // __WALL
        var status: Int32 = 0
        while true {
            let r = waitpid(-1, &status, WNOHANG | all)
            if r > 0 { continue }
            if r < 0 { if errno == EINTR { continue } else { return } }
            for pid in children() { kill(pid, SIGKILL) }
            _ = waitpid(-1, &status, all)
        }
    }

    /// The children of every thread of this process.
    static func children() -> [pid_t] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var pids: [pid_t] = []
        for t in tasks {
            guard let text = try? String(contentsOfFile: "/proc/self/task/\(t)/children", encoding: .utf8) else { continue }
            pids += text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return pids
    }

    private static func setLimit(_ resource: __rlimit_resource, _ soft: UInt, _ name: String) throws(Failure) {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(resource.rawValue), &limit)
        limit.rlim_cur = rlim_t(soft)
        if limit.rlim_max != rlim_t.max && limit.rlim_max < limit.rlim_cur { limit.rlim_cur = limit.rlim_max }
        guard setrlimit(__rlimit_resource_t(resource.rawValue), &limit) == 0 else { throw Failure(mechanism: name, code: errno) }
    }
}
