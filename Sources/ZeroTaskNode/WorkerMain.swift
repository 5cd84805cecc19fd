#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Logging
import Synchronization
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The worker process: loads the plugins, then runs one task at a time for its node.
///
/// It talks to the node only over its control channel on fd 3 (stdout and stderr belong to the
/// plugins): the main thread reads task frames there itself and runs them, so a task crosses no
/// thread inside the worker. Cancels come a second way too, on the urgent channel (fd 4), which a
/// watcher thread reads while the main thread is inside a native call; its end of file, which
/// means "the node is gone", ends the worker at once, even a worker stuck in a plugin.
public enum WorkerMain {
    /// The control channel's descriptor in the worker.
    public static let controlFD: Int32 = 3
    /// The urgent channel's descriptor in the worker (cancels only).
    public static let urgentFD: Int32 = 4

    /// Runs the worker. `sandbox` (with `cgroup`, the memory cgroup the node made for it) is
    /// applied before anything else, for good; a mechanism that fails ends the worker at once.
    public static func run(pluginsDir: String, pluginConfig: [String: JSONValue], maxResultBytes: Int,
                           sandbox profile: SandboxProfile = .unrestricted, cgroup: String? = nil, logger: Logger) -> Never {
        var sandbox: WorkerSandbox
        do {
            let missing: [String]
            (sandbox, missing) = try WorkerSandbox.apply(profile, pluginsDir: pluginsDir, cgroup: cgroup)
            for path in missing { logger.warning("sandbox: declared path \(path) does not exist; skipped") }
        } catch {
            logger.critical("\(error)")
            exit(70)
        }
        // Plugins' printf output should reach the node's log line by line, not at exit.
        setvbuf(stdout, nil, _IOLBF, 0)
        // Programs a plugin starts must not inherit the channels: one that outlived the worker
        // would hide the end of file by which the node learns the worker is gone.
        _ = fcntl(controlFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(urgentFD, F_SETFD, FD_CLOEXEC)
        let channel = FrameChannel(fd: controlFD)
        let urgent = FrameChannel(fd: urgentFD)
        let writer = ChannelWriter(channel)
        let (plugins, problems) = PluginSet.load(directory: pluginsDir, config: pluginConfig, logger: logger)

        let host = WorkerTaskHost(writer: writer)
        let watching = DispatchSemaphore(value: 0)
        let watcher = Thread {
            watching.signal()
            while true {
                guard let frame = try? urgent.receive() else { nodeGone() }
                if case .cancel(let id)? = try? WorkerMessage(json: frame) { host.cancel(id) }
            }
        }
        watcher.name = "zerotask-worker-watch"
        watcher.start()
        // Ready once every thread of the worker's own has started: the node counts them in the
        // pids cgroup's limit then (`processes` counts the plugin's processes beyond them).
        watching.wait()
        writer.send(.ready(pid: getpid(), methods: plugins.methods.map(\.json), problems: problems.map(\.description)))

        var lastRSSAt: MonotonicInstant = 0
        // Frames received and not yet handled: the node may queue several tasks behind the
        // running one, and one read takes all that arrived.
        var inbox: [WorkerMessage] = []
        var next = 0
        while true {
            if next == inbox.count {
                inbox.removeAll(keepingCapacity: true)
                next = 0
                guard let frames = try? channel.receiveSome() else { nodeGone() }
                for frame in frames {
                    switch try? WorkerMessage(json: frame) {
                    case .cancel(let id): host.cancel(id)
                    case let message?: inbox.append(message)
                    case nil: break
                    }
                }
                continue
            }
            let message = inbox[next]
            next += 1
            if case .exit = message {
                plugins.shutdown()
                exit(0)
            }
            guard case .task(let id, let name, let paramsJSON) = message else { continue }
            let params = Params(json: paramsJSON) ?? .none
            if !host.start(id) {
                // Cancelled while it waited in this worker's queue: never started.
                writer.send(.done(id: id, outcome: .failure(.taskCancelled(id)), residentBytes: nil))
                continue
            }
            let outcome: Result<JSONValue, RPCError>
            sandbox.taskStarts()
            if let method = plugins.method(named: name) {
                outcome = method.invoke(params, host: host)
            } else {
                outcome = .failure(.methodNotFound(name))
            }
            sandbox.taskEnded()
            host.end()
            var sent = outcome
            if case .success(let result) = outcome {
                // Escapes make JSON at most 6 times its estimate: measure exactly only near the limit.
                let size = result.approximateSize * 6 > maxResultBytes ? result.jsonBytes.count : 0
                if size > maxResultBytes {
                    sent = .failure(RPCError(.internalError, "\(name): result of \(size) bytes exceeds max_result_bytes (\(maxResultBytes))"))
                }
            }
            // Reading /proc costs more than a fast task: report the size at most 10 times a second.
            var rss: Int?
            let now = MonotonicInstant.now()
            if now - lastRSSAt >= 0.1 {
                lastRSSAt = now
                rss = residentBytes()
            }
            writer.send(.done(id: id, outcome: sent, residentBytes: rss))
        }
    }

    /// The node is gone (or broke a channel): take the whole group down now, plugins' children too.
    static func nodeGone() -> Never {
        Glibc.kill(0, SIGKILL)
        _exit(0)
    }

    /// This process's resident set size in bytes.
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return 0 }
        let fields = buf[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

/// Serialises writes to the control channel (a plugin may report progress from any thread).
final class ChannelWriter: Sendable {
    private let lock = Mutex<FrameChannel?>(nil)

    init(_ channel: FrameChannel) { lock.withLock { $0 = channel } }

    func send(_ message: WorkerMessage) {
        lock.withLock { channel in
            do {
                try channel?.send(message)
            } catch {
                WorkerMain.nodeGone()
            }
        }
    }
}


/// The `zt_context` host for the task the worker is running.
final class WorkerTaskHost: PluginTaskHost {
    private struct State {
        var task: String?
        var cancelled = false
        var lastProgress: MonotonicInstant = 0
        /// Cancelled before they started — queued here, or not even read yet (a cancel on the
        /// urgent channel can overtake its task on the control channel): never started.
        var skipped: Set<String> = []
        /// `skipped` in insertion order, to forget the oldest: a cancel for a task that
        /// finished just before it arrived stays here, and nothing else removes it.
        var skipOrder: [String] = []
    }

    private let writer: ChannelWriter
    private let state = Mutex(State())

    init(writer: ChannelWriter) { self.writer = writer }

    /// Starts a task, unless it was cancelled while it waited (then false: skip it). One lock,
    /// so a cancel is either seen here or reaches the running task through `ctx->cancelled`.
    func start(_ id: String) -> Bool {
        state.withLock { s in
            if s.skipped.remove(id) != nil { return false }
            s.task = id
            s.cancelled = false
            s.lastProgress = 0
            return true
        }
    }

    func end() { state.withLock { $0.task = nil } }

    /// A cancel for the running task, or for one that has not started: queued here, or still
    /// on its way (its cancel overtook it). Task ids are unique, so a cancel for a task done
    /// already only takes a place among the last 4,096 remembered.
    func cancel(_ id: String) {
        state.withLock { s in
            if s.task == id {
                s.cancelled = true
            } else if s.skipped.insert(id).inserted {
                s.skipOrder.append(id)
                if s.skipOrder.count > 4096 {
                    for old in s.skipOrder.prefix(1024) { s.skipped.remove(old) }
                    s.skipOrder.removeFirst(1024)
                }
            }
        }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    func progress(_ fraction: Double, _ message: String?) {
        // At most ~20 reports a second reach the node; the last word before the end always does.
        let now = MonotonicInstant.now()
        let id: String? = state.withLock { s in
            guard let t = s.task, now - s.lastProgress >= 0.05 || fraction >= 1 else { return nil }
            s.lastProgress = now
            return t
        }
        guard let id else { return }
        writer.send(.progress(id: id, fraction: fraction, message: message))
    }

    func log(level: Logger.Level, _ message: String) {
        let id = state.withLock { $0.task }
        writer.send(.log(taskID: id, level: level, message: message))
    }
}
