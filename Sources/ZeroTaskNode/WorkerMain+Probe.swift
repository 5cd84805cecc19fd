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
        var frame: JSONObject = ["type": "probe"]
        do {
            let plugin = try PluginLoader(config: pluginConfig, logger: logger).load(path: library)
            frame["name"] = .string(plugin.name)
            frame["methods"] = .array(plugin.methods.map { .string($0.name) })
            frame["limits"] = .object(JSONObject(plugin.methods.map { ($0.name, $0.descriptor.limits.json) }))
            plugin.shutdown()
        } catch {
            frame["problem"] = ProbeReport.json(error)
        }
        do { try channel.send(.object(frame)) } catch { _exit(3) }
        exit(0)
    }
}

/// The `probe` frame's wire form of a `PluginProblem`, both ways.
enum ProbeReport {
    static func json(_ p: PluginProblem) -> JSONValue {
        var o: JSONObject = ["file": .string(p.file), "cause": .string(p.cause)]
        if let m = p.method { o["method"] = .string(m) }
        if let f = p.field { o["field"] = .string(f) }
        return .object(o)
    }

    static func problem(_ json: JSONValue) -> PluginProblem? {
        guard let file = json["file"]?.stringValue, let cause = json["cause"]?.stringValue else { return nil }
        return PluginProblem(file: file, method: json["method"]?.stringValue, field: json["field"]?.stringValue, cause: cause)
    }
}
