#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Logging
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The probe mode of the worker executable (`zerotask worker --probe LIBRARY`): loads one plugin
/// alone and says how that went, so that a library that crashes while loading (a truncated file
/// maps pages past its end: SIGBUS) takes down this throwaway process and nothing else.
extension WorkerMain {
    /// Loads `library` (its manifest beside it or embedded), runs its `init` and `shutdown`, writes
    /// one `probe` frame on the control channel and exits. A crash says itself by the exit status.
    /// `sandbox` is applied first, as a worker does: the library's constructors and `init` run
    /// restricted here too, not with the node's rights.
    public static func probe(library: String, pluginConfig: [String: JSONValue], sandbox profile: SandboxProfile = .unrestricted,
                             logger: Logger) -> Never {
        let channel = FrameChannel(fd: controlFD)
        let outcome: ProbeOutcome
        do {
            let (_, _) = try WorkerSandbox.apply(profile, pluginsDir: (library as NSString).deletingLastPathComponent, cgroup: nil)
            let plugin = try PluginLoader(config: pluginConfig, logger: logger).load(path: library)
            outcome = .passed(name: plugin.name, methods: plugin.methods.map(\.name),
                              limits: Dictionary(plugin.methods.map { ($0.name, $0.descriptor.limits) }) { first, _ in first })
            plugin.shutdown()
        } catch let error as PluginProblem {
            outcome = .failed(error)
        } catch {
            outcome = .failed(PluginProblem(file: library, cause: "\(error)"))
        }
        do { try channel.send(.probe(outcome)) } catch { _exit(3) }
        exit(0)
    }
}
