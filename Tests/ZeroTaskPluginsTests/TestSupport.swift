import Logging
import Synchronization
import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

/// A logger that drops everything: the loader's lines are asserted through its return values.
let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// A plugin set from freshly compiled fixtures (own copies: no state shared between tests).
func loadFixtures(_ names: [String], config: [String: JSONValue] = [:]) throws -> (PluginSet, [PluginProblem], String) {
    let dir = try PluginFixtures.makeDirectory(names)
    let (set, problems) = PluginSet.load(directory: dir, config: config, logger: quietLogger)
    return (set, problems, dir)
}

/// Invokes a method that must exist; fails the test otherwise.
func call(_ set: PluginSet, _ name: String, _ params: [JSONValue], host: PluginTaskHost? = nil,
          sourceLocation: SourceLocation = #_sourceLocation) -> Result<JSONValue, RPCError> {
    guard let m = set.method(named: name) else {
        Issue.record("no method \(name)", sourceLocation: sourceLocation)
        return .failure(RPCError(.methodNotFound, name))
    }
    return m.invoke(.positional(params), host: host)
}

extension Result where Success == JSONValue, Failure == RPCError {
    var value: JSONValue? { if case .success(let v) = self { v } else { nil } }
    var error: RPCError? { if case .failure(let e) = self { e } else { nil } }
}

/// A host that records what the plugin reported.
final class RecordingHost: PluginTaskHost {
    struct Log: Sendable {
        var progress: [(Double, String?)] = []
        var lines: [(Logger.Level, String)] = []
    }
    let log = Mutex(Log())
    let cancelled: Bool
    init(cancelled: Bool = false) { self.cancelled = cancelled }

    func progress(_ fraction: Double, _ message: String?) { log.withLock { $0.progress.append((fraction, message)) } }
    var isCancelled: Bool { cancelled }
    func log(level: Logger.Level, _ message: String) { log.withLock { $0.lines.append((level, message)) } }
}
