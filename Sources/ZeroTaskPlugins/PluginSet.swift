import Logging
import ZeroTaskProtocol

/// Every plugin loaded from one directory, and the methods they provide.
///
/// Loading never fails as a whole: a bad plugin is reported as a `PluginProblem`, logged in one
/// line naming file and cause, and skipped; the others load.
public final class PluginSet: Sendable {
    /// The loaded plugins, in file name order.
    public let plugins: [Plugin]
    /// The verdict on every plugin file found, in file name order (for `zerotask plugins check`).
    public let verdicts: [(file: String, verdict: PluginVerdict)]
    private let byName: [String: PluginMethod]

    init(plugins: [Plugin], verdicts: [(file: String, verdict: PluginVerdict)]) {
        self.plugins = plugins
        self.verdicts = verdicts
        var index: [String: PluginMethod] = [:]
        for p in plugins { for m in p.methods { index[m.name] = m } }
        byName = index
    }

    /// An empty set.
    public static let empty = PluginSet(plugins: [], verdicts: [])

    /// Loads every `NAME.so` in `directory` (sorted by name) with its manifest.
    ///
    /// - Parameters:
    ///   - config: per-plugin configuration keyed by plugin name, overriding each manifest's `config`.
    ///   - excluded: libraries (by file name) not to load, with the reason (they failed or
    ///     crashed when loaded alone elsewhere); they get that verdict.
    /// - Returns: the set, and every problem found (skipped plugins, stray manifests, an unreadable
    ///   directory).
    public static func load(directory: String, config: [String: JSONValue] = [:], excluded: [String: PluginProblem] = [:],
                            logger: Logger) -> (PluginSet, [PluginProblem]) {
        let names: [String]
        do {
            names = try FileSystem.list(directory)
        } catch {
            let problem = PluginProblem(file: directory, cause: "\(error)")
            logger.error("plugins: \(problem)")
            return (PluginSet(plugins: [], verdicts: []), [problem])
        }
        let loader = PluginLoader(config: config, logger: logger)
        var plugins: [Plugin] = []
        var verdicts: [(file: String, verdict: PluginVerdict)] = []
        var problems: [PluginProblem] = []
        var methodOwners: [String: String] = [:]  // method name → plugin name

        for name in names where name.hasSuffix(".so") {
            let path = FileSystem.join(directory, name)
            if let problem = excluded[name] {
                problems.append(problem)
                verdicts.append((path, .skipped(problem)))
                logger.error("plugins: skipped \(problem)")
                continue
            }
            do {
                let plugin = try loader.load(path: path) { manifest in
                    if let other = plugins.first(where: { $0.name == manifest.name }) {
                        return PluginProblem(file: path, field: "name", cause: "plugin name \"\(manifest.name)\" is already taken by \(other.path)")
                    }
                    for m in manifest.methods {
                        if let owner = methodOwners[m.name] {
                            return PluginProblem(file: path, method: m.name, field: "name", cause: "duplicate method name: plugin \"\(owner)\" already provides it")
                        }
                    }
                    return nil
                }
                for m in plugin.methods { methodOwners[m.name] = plugin.name }
                plugins.append(plugin)
                verdicts.append((path, .loaded(name: plugin.name, version: plugin.version, methods: plugin.methods.count)))
                logger.info("plugins: loaded \(plugin.name)\(plugin.version.map { " " + $0 } ?? "") from \(path): \(plugin.methods.map(\.name).joined(separator: ", "))")
            } catch {
                problems.append(error)
                verdicts.append((path, .skipped(error)))
                logger.error("plugins: skipped \(error)")
            }
        }
        // A manifest without its library is almost always a build that did not happen.
        for name in names where name.hasSuffix(".json") {
            let library = String(name.dropLast(5)) + ".so"
            if !names.contains(library) {
                let problem = PluginProblem(file: FileSystem.join(directory, name), cause: "no \(library) beside this manifest (not built?)")
                problems.append(problem)
                verdicts.append((problem.file, .skipped(problem)))
                logger.warning("plugins: \(problem)")
            }
        }
        return (PluginSet(plugins: plugins, verdicts: verdicts), problems)
    }

    /// Every method of every plugin, plugins in file order, methods in manifest order.
    public var methods: [MethodDescriptor] { plugins.flatMap { $0.methods.map(\.descriptor) } }

    /// The method called `name`, if a plugin provides it.
    public func method(named name: String) -> PluginMethod? { byName[name] }

    /// Calls every plugin's `shutdown` (at most once each), in reverse load order.
    public func shutdown() {
        for p in plugins.reversed() { p.shutdown() }
    }
}
