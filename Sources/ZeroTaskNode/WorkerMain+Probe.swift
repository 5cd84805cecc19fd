#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Logging
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The probe mode of the worker executable (`zerotask worker --probe LIBRARY`): loads one plugin
/// alone and says how that went, so that a library that crashes while loading (a truncated file
/// maps pages past its end: SIGBUS) takes down this throwaway process and nothing else.
extension WorkerMain {
    /// Loads `library` (its manifest beside it or embedded), runs its `init` and `shutdown`, writes
    /// one `probe` frame on the control channel and exits. A crash says itself by the exit status.
    public static func probe(library: String, pluginConfig: [String: JSONValue], logger: Logger) -> Never {
        let channel = FrameChannel(fd: controlFD)
        let outcome: ProbeOutcome
        do {
            let plugin = try PluginLoader(config: pluginConfig, logger: logger).load(path: library)
            outcome = .passed(name: plugin.name, methods: plugin.methods.map(\.name))
            plugin.shutdown()
        } catch {
            outcome = .failed(error)
        }
        do { try channel.send(.probe(outcome)) } catch { _exit(3) }
        exit(0)
    }
}
