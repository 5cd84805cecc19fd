#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// The plugin sandbox through a real node, real workers and a plugin that misbehaves on purpose
/// (`Fixtures/sandboxed.c`): each limit ends or refuses what goes over it, and the node serves on.
@Suite(.serialized) struct SandboxTests {
    /// Starts a node with one worker serving the `sandboxed` plugin; `off` names mechanisms
    /// forced off (`ZEROTASK_TEST_SANDBOX_OFF`), as on a kernel without them.
    private func node(_ id: String, off: String? = nil) throws -> NodeHarness {
        let h = try NodeHarness(plugins: ["sandboxed"])
        try h.startNode(id: id, workers: 1, environment: off.map { ["ZEROTASK_TEST_SANDBOX_OFF": $0] } ?? [:], waitFor: "sb.alloc")
        return h
    }

    /// The limit an outcome failed with (`data.limit` of a -32064 error).
    private func limit(_ outcome: Result<JSONValue, RPCError>) -> String? {
        guard case .failure(let e) = outcome, e.code == ErrorCode.resourceLimit.rawValue else { return nil }
        return e.data?["limit"]?.stringValue
    }

    /// 1 GiB under memory_mib 256: the task fails with the memory limit, the next one runs.
    @Test(.timeLimit(.minutes(10))) func memoryOverTheLimitEndsTheTaskWithTheLimitNamed() throws {
        let h = try node("sb-memory")
        #expect(try h.outcome(try h.submit("sb.alloc", [16])) == .success(16))
        let outcome = try h.outcome(try h.submit("sb.alloc", [1024]))
        #expect(limit(outcome) == "memory_mib", "\(outcome)")
        if case .failure(let e) = outcome { #expect(e.data?["memory_mib"] == .int(256)) }
        // A fresh worker, the node untouched.
        #expect(try h.outcome(try h.submit("sb.alloc", [16])) == .success(16))
    }

    /// A spin under cpu_seconds 1 (and a 120 s deadline): the CPU limit ends it, and says so.
    @Test(.timeLimit(.minutes(10))) func cpuOverTheLimitEndsTheTaskWithTheLimitNamed() throws {
        let h = try node("sb-cpu")
        let outcome = try h.outcome(try h.submit("sb.spin", [60]), seconds: 90)
        #expect(limit(outcome) == "cpu_seconds", "\(outcome)")
        #expect(try h.outcome(try h.submit("sb.alloc", [1])) == .success(1))
    }

    /// A setsid daemon's grandchild is gone once its task has answered.
    @Test(.timeLimit(.minutes(10))) func aDaemonAPluginStartsIsGoneWhenItsTaskEnds() throws {
        let h = try node("sb-daemon")
        guard case .int(let pid) = try h.outcome(try h.submit("sb.daemon")).get(), pid > 0 else {
            Issue.record("sb.daemon gave no pid")
            return
        }
        // Killed and reaped before the worker sent the result.
        #expect(processIsGone(Int32(pid)), "process \(pid) outlived its task")
    }

    /// A daemon started by a task that then hangs is gone once the deadline has killed the worker
    /// (swept through the worker's cgroup: it is no child of the worker's group any more).
    /// Without a memory cgroup (forced off) the same daemon is found beneath the worker in /proc
    /// and killed before the worker is.
    @Test(.timeLimit(.minutes(10)), arguments: [nil, "cgroup"])
    func aDaemonOfATimedOutTaskIsGoneWithItsWorker(off: String?) throws {
        let h = try node("sb-daemon-timeout-\(off ?? "all")", off: off)
        let file = FixturePlugins.temporaryDirectory("zt-daemon") + "/pid"
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let outcome = try h.outcome(try h.submit("sb.daemonhang", [.string(file)]))
        guard case .failure(let e) = outcome, e.code == ErrorCode.taskTimedOut.rawValue else {
            Issue.record("not a timeout: \(outcome)")
            return
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(pid > 0)
        let gone = eventually(30) { processIsGone(pid) }
        if !gone { kill(pid, SIGKILL) }
        #expect(gone, "process \(pid) outlived its timed-out task")
    }

    /// A daemon started by a task whose worker then crashes (abort) is gone: through the worker's
    /// cgroups, and without cgroups (forced off) because it came back to the node, the child
    /// subreaper of its workers, which killed it. The daemon holds the worker's channels open, so
    /// the node learns of the crash from the worker's pidfd, not from an end of file.
    @Test(.timeLimit(.minutes(10)), arguments: [nil, "cgroup"])
    func aDaemonOfACrashedWorkerIsGone(off: String?) throws {
        let h = try node("sb-daemon-crash-\(off ?? "all")", off: off)
        let file = FixturePlugins.temporaryDirectory("zt-daemon") + "/pid"
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        let outcome = try h.outcome(try h.submit("sb.daemoncrash", [.string(file)]))
        guard case .failure = outcome else {
            Issue.record("the worker did not crash: \(outcome)")
            return
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let pid = try #require(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(pid > 0)
        let gone = eventually(30) { processIsGone(pid) }
        if !gone { kill(pid, SIGKILL) }
        #expect(gone, "process \(pid) outlived its crashed worker")
        // The node serves on.
        #expect(try h.outcome(try h.submit("sb.alloc", [1])) == .success(1))
    }

    /// processes: 2 is a count the kernel keeps (the worker's pids cgroup): of three forks the
    /// third fails with EAGAIN inside the plugin, and the two children are gone after the task.
    @Test(.timeLimit(.minutes(10))) func processesNIsACountTheThirdForkFails() throws {
        let h = try node("sb-forkn")
        let file = FixturePlugins.temporaryDirectory("zt-forkn") + "/pids"
        defer { try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent) }
        for round in 0..<2 {
            // Twice: what a task started is killed when it ends, and the count starts again.
            #expect(try h.outcome(try h.submit("sb.forkn", [3, .string(file)])) == .success(2), "round \(round)")
            let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
            #expect(lines.first == EAGAIN, "the third fork: \(lines)")
            let children = Array(lines.dropFirst())
            #expect(children.count == 2)
            for pid in children {
                let gone = eventually(30) { processIsGone(pid) }
                if !gone { kill(pid, SIGKILL) }
                #expect(gone, "child \(pid) outlived its task")
            }
        }
        // Within the count all forks succeed.
        #expect(try h.outcome(try h.submit("sb.forkn", [2, .string(file)])) == .success(2))
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("0\n"))
    }

    /// processes: 0 makes fork fail with EPERM.
    @Test(.timeLimit(.minutes(10))) func forkIsRefusedUnderProcessesZero() throws {
        let h = try node("sb-fork")
        let outcome = try h.outcome(try h.submit("sb.fork"))
        guard case .failure(let e) = outcome else { Issue.record("fork was allowed: \(outcome)"); return }
        #expect(e.message.contains("fork: Operation not permitted"), "\(e)")
    }

    /// network: false: the plugin's socket() fails and the listener sees no connection; with
    /// network: true the same code connects (the listener works).
    @Test(.timeLimit(.minutes(10))) func networkFalseRefusesSocketsAndNothingConnects() throws {
        let h = try node("sb-network")
        let listener = try LoopbackListener()
        let refused = try h.outcome(try h.submit("sb.connect", [.int(Int64(listener.port))]))
        guard case .failure(let e) = refused else { Issue.record("connected: \(refused)"); return }
        #expect(e.message.contains("socket: Permission denied"), "\(e)")
        #expect(!listener.acceptsWithin(seconds: 0), "a connection arrived")
        #expect(try h.outcome(try h.submit("sb.connect_allowed", [.int(Int64(listener.port))])) == .success("connected"))
        #expect(listener.acceptsWithin(seconds: 30))
    }

    /// With seccomp forced off, Landlock's network rules (ABI 4) still refuse the connection under
    /// network: false — from connect(), socket() itself is allowed — and leave network: true alone.
    @Test(.timeLimit(.minutes(10))) func landlockRefusesTCPWithoutSeccomp() throws {
        let h = try node("sb-network-landlock", off: "seccomp")
        let listener = try LoopbackListener()
        let refused = try h.outcome(try h.submit("sb.connect", [.int(Int64(listener.port))]))
        guard case .failure(let e) = refused else { Issue.record("connected: \(refused)"); return }
        #expect(e.message.contains("connect: Permission denied"), "\(e)")
        #expect(!listener.acceptsWithin(seconds: 0), "a connection arrived")
        #expect(try h.outcome(try h.submit("sb.connect_allowed", [.int(Int64(listener.port))])) == .success("connected"))
    }

    /// A real node with node.require_sandbox on and seccomp forced off does not start, and says why.
    @Test(.timeLimit(.minutes(10))) func requireSandboxStopsARealNodeNamingTheMechanism() throws {
        let h = try NodeHarness(plugins: ["sandboxed"])
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", h.broker.request, "--broker-publish", h.broker.publish, "--plugins", h.plugins, "--node-id", "sb-required",
        ], environment: ["ZEROTASK_TEST_SANDBOX_OFF": "seccomp", "ZEROTASK_NODE_REQUIRE_SANDBOX": "true"])
        #expect(node.waitForExit(seconds: 60) != nil, "the node started")
        #expect(node.output.contains("node.require_sandbox is on, but this kernel lacks: seccomp"), "\(node.output)")
    }

    /// node.sandbox_read not covering a declared read path: the plugin is quarantined at load,
    /// the log naming its manifest, the method and the path; the node's other plugins are served.
    @Test(.timeLimit(.minutes(10))) func aDeclaredPathOutsideTheNodesAllowListIsRefusedAtLoad() throws {
        let h = try NodeHarness(plugins: ["nodetest", "sandboxed"])
        let node = try h.startNode(id: "sb-paths", workers: 1, environment: ["ZEROTASK_NODE_SANDBOX_READ": "/usr/share:/tmp"])
        #expect(try h.outcome(try h.submit("nt.add", [2, 3])) == .success(5))
        #expect(try !h.serves("sb.alloc", node: "sb-paths"))
        let quarantined = { node.output.split(separator: "\n").first { $0.contains("plugin quarantined") } }
        #expect(eventually(30) { quarantined() != nil }, "\(node.output)")
        let line = String(quarantined() ?? "")
        #expect(line.contains("\(h.plugins)/sandboxed.json: method \"sb.alloc\": limits.read[0]: /etc/os-release is outside what the node allows (node.sandbox_read: /usr/share:/tmp)"), "\(line)")
    }

    /// A constructor that writes a file outside its paths cannot, in the probe that loads the
    /// plugin first nor in the worker: the file never appears, and the plugin is served.
    @Test(.timeLimit(.minutes(10))) func aConstructorCannotWriteOutsideItsPathsInTheProbe() throws {
        let h = try NodeHarness(plugins: ["ctorwrite"])
        let dir = FixturePlugins.temporaryDirectory("zt-ctor")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try h.startNode(id: "sb-ctor", workers: 1, environment: ["ZT_TEST_CTOR_FILE": dir + "/written"], waitFor: "ctor.wrote")
        // The worker's constructor ran and was refused (0); so, before it, was the probe's.
        #expect(try h.outcome(try h.submit("ctor.wrote")) == .success(0))
        #expect(!FileManager.default.fileExists(atPath: dir + "/written"),
                "written by: \((try? String(contentsOfFile: dir + "/written", encoding: .utf8)) ?? "")")
    }

    /// The probe runs a library's constructors under the profile of a plugin that declares
    /// nothing, not under what its methods declare: a constructor writing to a folder its method
    /// may write (/tmp) can in the method's worker, not in the probe — the file has one line.
    @Test(.timeLimit(.minutes(10))) func theProbeRunsConstructorsUnderTheUndeclaredProfile() throws {
        let h = try NodeHarness(plugins: ["ctordeclared"])
        let dir = FixturePlugins.temporaryDirectory("zt-ctor")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try #require(dir.hasPrefix("/tmp/"), "the fixture declares /tmp: \(dir)")
        try h.startNode(id: "sb-ctor-declared", workers: 1, environment: ["ZT_TEST_CTOR_FILE": dir + "/written"], waitFor: "ctord.wrote")
        // The worker's constructor could write (1): its method's profile allows /tmp.
        #expect(try h.outcome(try h.submit("ctord.wrote")) == .success(1))
        let lines = try String(contentsOfFile: dir + "/written", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1, "written \(lines.count) times: the probe's constructor wrote too")
    }

    /// `plugins list` shows under each method the processes limit in force: the method's own
    /// count (sb.forkn: 2), the plugin's (0) for the others.
    @Test(.timeLimit(.minutes(10))) func pluginsListShowsTheProcessesLimitInForce() throws {
        let dir = FixturePlugins.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FixturePlugins.compile("sandboxed", from: NodeHarness.fixtures, into: dir)
        let list = try ChildProcess(Binaries.zerotask, ["plugins", "list", dir])
        #expect(list.waitForExit(seconds: 60) == 0, "\(list.output)")
        let lines = list.output.split(separator: "\n").map(String.init)
        func limits(of method: String) -> String? {
            guard let i = lines.firstIndex(where: { $0.contains(method + "(") }) else { return nil }
            return lines[(i + 1)...].first { $0.contains("limits:") }
        }
        #expect(limits(of: "sb.forkn")?.contains("processes 2,") == true, "\(list.output)")
        #expect(limits(of: "sb.alloc")?.contains("processes 0,") == true, "\(list.output)")
    }

    /// A file outside the declared paths cannot be opened; a declared one can.
    @Test(.timeLimit(.minutes(10))) func aFileOutsideTheDeclaredPathsCannotBeRead() throws {
        let h = try node("sb-files")
        let secret = FixturePlugins.temporaryDirectory("zt-secret") + "/secret"
        try "secret".write(toFile: secret, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: (secret as NSString).deletingLastPathComponent) }
        let refused = try h.outcome(try h.submit("sb.read", [.string(secret)]))
        guard case .failure(let e) = refused else { Issue.record("read: \(refused)"); return }
        #expect(e.message.contains("open: Permission denied"), "\(e)")
        #expect(try h.outcome(try h.submit("sb.read", ["/etc/os-release"])) == .success("read"))
    }
}

/// A TCP listener on 127.0.0.1, on a port of the kernel's choosing.
final class LoopbackListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = UInt16(bigEndian: addr.sin_port)
    }

    /// Whether a connection is waiting (or arrives within `seconds`).
    func acceptsWithin(seconds: Double) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, Int32(seconds * 1000)) == 1
    }

    deinit { close(fd) }
}
