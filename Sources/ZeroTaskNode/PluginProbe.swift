#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ZeroTaskPlugins
import ZeroTaskProtocol

/// How loading one plugin alone went.
public enum ProbeOutcome: Sendable, Equatable {
    /// It loaded: its plugin name, method names and each method's declared sandbox limits.
    case passed(name: String, methods: [String], limits: [String: SandboxLimits])
    /// It did not: the loader's problem (a missing symbol, a bad field), or a crash, exit or hang
    /// of the process that loaded it.
    case failed(PluginProblem)
}

/// One plugin loaded alone in a throwaway worker process (`zerotask worker --probe LIBRARY`), so
/// that a library that crashes while loading costs that process only, not every worker forever.
///
/// Probes run once per plugin file version (the node remembers verdicts), beside the node's
/// loop: `poll` never blocks, and the node polls `fd` with its other descriptors.
final class PluginProbe {
    /// How long a plugin may take to load, its `init` included, before it counts as hung.
    static let timeout = 10.0

    let library: String
    let process: WorkerProcess
    let deadline: MonotonicInstant
    /// What the probe reported, once it has.
    private var verdict: ProbeOutcome?
    private var channelOpen = true

    private init(library: String, process: WorkerProcess, deadline: MonotonicInstant) {
        self.library = library
        self.process = process
        self.deadline = deadline
    }

    /// Starts probing `library` with the worker executable (`arguments` come before the probe's
    /// own; `sandbox`, the probe's `--sandbox`, after).
    static func start(library: String, executable: String, arguments: [String], pluginConfig: [String: JSONValue],
                      sandbox: [String] = [], now: MonotonicInstant) throws(WorkerProcess.SpawnError) -> PluginProbe {
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        let config = JSONValue.object(JSONObject(pluginConfig.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        let process = try WorkerProcess.spawn(executable: executable, arguments: arguments + [
            "--probe", library, "--plugins", (library as NSString).deletingLastPathComponent, "--worker-id", "0",
            "--plugin-config", config.jsonString,
        ] + sandbox, environment: env)
        return PluginProbe(library: library, process: process, deadline: now + timeout)
    }

    /// The descriptor that becomes readable when the probe reports or ends.
    var fd: Int32 { process.channel.fd }

    /// The outcome once the probe has ended (nil while it still runs); a probe past its deadline
    /// is killed and fails as hung.
    func poll(now: MonotonicInstant) -> ProbeOutcome? {
        drainOutput()
        while channelOpen {
            do {
                let frames = try process.channel.receiveAvailable()
                if frames.isEmpty { break }
                for f in frames { if case .probe(let outcome)? = try? WorkerMessage(json: f) { verdict = outcome } }
            } catch {
                channelOpen = false
            }
        }
        if verdict != nil {
            // The verdict is in; whatever the process still does on its way out does not matter.
            return finish(process.killAndReap())
        }
        if !channelOpen {
            // A crash closes the channel as the process dies: its status follows within moments.
            for _ in 0..<100 {
                if let exit = process.reap() { return finish(exit) }
                usleep(1000)
            }
            _ = process.killAndReap()
            process.closeDescriptors()
            return .failed(PluginProblem(file: library, cause: "closed the node's channel while loading; killed"))
        }
        guard now >= deadline else { return nil }
        _ = process.killAndReap()
        process.closeDescriptors()
        return .failed(PluginProblem(file: library, cause: "still loading after \(Int(Self.timeout)) s (a hung init?); killed"))
    }

    private func finish(_ exit: ProcessExit) -> ProbeOutcome {
        drainOutput()
        process.closeDescriptors()
        if let verdict { return verdict }
        switch exit {
        case .signaled(let s):
            return .failed(PluginProblem(file: library, cause: "crashed while loading (signal \(ProcessExit.signalName(s)))"))
        case .exited(let code):
            return .failed(PluginProblem(file: library, cause: "the loading process exited (status \(code)) before it could report"))
        }
    }

    /// What a library prints while it loads is not logged, but must not fill the pipes and stop it.
    private func drainOutput() {
        var scratch = [UInt8](repeating: 0, count: 4096)
        for fd in [process.stdoutFD, process.stderrFD] {
            while scratch.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
        }
    }

    /// Probes every library in `libraries` at once and waits for all of them (for
    /// `zerotask plugins check`; a node polls its probes in its own loop instead).
    static func run(_ libraries: [String], executable: String, arguments: [String],
                    pluginConfig: [String: JSONValue] = [:]) -> [String: ProbeOutcome] {
        var outcomes: [String: ProbeOutcome] = [:]
        var running: [PluginProbe] = []
        for library in libraries {
            do {
                running.append(try start(library: library, executable: executable, arguments: arguments,
                                         pluginConfig: pluginConfig, now: MonotonicInstant.now()))
            } catch {
                outcomes[library] = .failed(PluginProblem(file: library, cause: "cannot start a process to load it: \(error)"))
            }
        }
        while !running.isEmpty {
            var fds = running.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            _ = Glibc.poll(&fds, nfds_t(fds.count), 50)
            let now = MonotonicInstant.now()
            running.removeAll { probe in
                guard let outcome = probe.poll(now: now) else { return false }
                outcomes[probe.library] = outcome
                return true
            }
        }
        return outcomes
    }
}

/// Probing a whole folder at once, for `zerotask plugins check` and `plugins list`: they must
/// give a verdict on a library that crashes whatever loads it, not crash themselves.
public enum PluginProbes {
    /// Loads each `NAME.so` of `directory` alone in a throwaway worker process (all at once) and
    /// returns those that failed or crashed there, by file name, with the reason.
    public static func failures(in directory: String, executable: String = NodeConfig.currentExecutable(),
                                arguments: [String] = ["worker"]) -> [String: PluginProblem] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".so") }
        let outcomes = PluginProbe.run(names.map { (directory as NSString).appendingPathComponent($0) },
                                       executable: executable, arguments: arguments)
        var failed: [String: PluginProblem] = [:]
        for (library, outcome) in outcomes {
            if case .failed(let p) = outcome { failed[(library as NSString).lastPathComponent] = p }
        }
        return failed
    }
}
