#if canImport(Glibc)
import Glibc
#endif
import CSandbox
import ZeroTaskProtocol

/// One worker child process: its pid, its control channel and its output pipes.
///
/// The worker runs in a process group of its own, so that a timeout kills whatever the plugin
/// started too. The control channel is a socketpair on the worker's fd 3; cancels also go on a
/// second one, the urgent channel on fd 4, which a thread of the worker watches while the main
/// thread runs a task (and whose end of file tells the worker its node is gone); stdout and stderr are
/// pipes the node reads and logs. Every descriptor the node keeps is close-on-exec, so no
/// worker inherits another's channel (which would hide the end of file that tells a worker its
/// node is gone).
final class WorkerProcess: @unchecked Sendable {
    let pid: pid_t
    let channel: FrameChannel
    /// The urgent channel: cancels only.
    let urgent: FrameChannel
    let stdoutFD: Int32
    let stderrFD: Int32
    /// Readable once the worker has ended (-1 where the kernel has no pidfds): the node learns of
    /// a crash from it even when a process the worker started still holds its channels open, so
    /// that no end of file comes.
    let pidFD: Int32

    private init(pid: pid_t, channel: FrameChannel, urgent: FrameChannel, stdoutFD: Int32, stderrFD: Int32) {
        self.pid = pid
        let fd = zt_pidfd_open(pid)
        self.pidFD = fd >= 0 ? fd : -1
        self.channel = channel
        self.urgent = urgent
        self.stdoutFD = stdoutFD
        self.stderrFD = stderrFD
    }

    struct SpawnError: Error, CustomStringConvertible {
        var call: String
        var code: Int32
        var description: String { "\(call): \(String(cString: strerror(code)))" }
    }

    /// Starts `executable arguments…` as a worker.
    static func spawn(executable: String, arguments: [String], environment: [String: String]) throws(SpawnError) -> WorkerProcess {
        var sv: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sv) == 0 else {
            throw SpawnError(call: "socketpair", code: errno)
        }
        var ug: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ug) == 0 else {
            let code = errno
            close(sv[0]); close(sv[1])
            throw SpawnError(call: "socketpair", code: code)
        }
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0 else {
            let code = errno
            for fd in sv + ug { close(fd) }
            throw SpawnError(call: "pipe", code: code)
        }
        guard pipe(&err) == 0 else {
            let code = errno
            for fd in sv + ug + out { close(fd) }
            throw SpawnError(call: "pipe", code: code)
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // The node's ends of both channels never block it: a worker that is busy, stopped or
        // writing results of its own while the node writes tasks must not freeze the node's
        // loop (and a built-in broker with it). Unwritten bytes wait for poll to say writable.
        for fd in [sv[0], ug[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        // The node reads what workers print only when poll says so, but a pipe that a plugin's
        // child keeps open must never block the node's loop: non-blocking on the node's side.
        for fd in [out[0], err[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, sv[1], 3)
        posix_spawn_file_actions_adddup2(&actions, ug[1], 4)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // A group of its own (killed as one), default signal handling (the node ignores SIGPIPE,
        // and an ignored signal would survive exec), nothing blocked.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        close(sv[1])
        close(ug[1])
        close(out[1])
        close(err[1])
        guard rc == 0 else {
            close(sv[0]); close(ug[0]); close(out[0]); close(err[0])
            throw SpawnError(call: "posix_spawn \(executable)", code: rc)
        }
        return WorkerProcess(pid: pid, channel: FrameChannel(fd: sv[0]), urgent: FrameChannel(fd: ug[0]), stdoutFD: out[0], stderrFD: err[0])
    }

    /// Cancels a task the worker holds, running or queued: on the urgent channel, which the
    /// worker reads even during a native call, and queued on the control channel behind the
    /// task's own frame (the caller flushes it).
    func cancel(_ taskID: String) {
        let frame = WorkerMessage.cancel(id: taskID).json
        try? urgent.send(frame)
        channel.enqueue(frame)
    }

    /// Kills the worker's whole process group.
    func kill() {
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Reaps the worker if it has ended; nil while it still runs.
    func reap() -> ProcessExit? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { return ProcessExit(waitStatus: status) }
        if r < 0 && errno == ECHILD { return .exited(-1) }
        return nil
    }

    /// Kills and reaps, blocking briefly (a killed process is reaped within milliseconds).
    func killAndReap() -> ProcessExit {
        kill()
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .exited(-1) }
        }
        return ProcessExit(waitStatus: status)
    }

    func closeDescriptors() {
        if pidFD >= 0 { close(pidFD) }
        channel.close()
        urgent.close()
        close(stdoutFD)
        close(stderrFD)
    }
}
