import Foundation
import Logging
import ZeroTaskPlugins
import ZeroTaskProtocol

/// A copy of the plugins folder whose plugins are being probed before workers load it.
struct PendingGeneration {
    var number: Int
    var dir: String
    /// Library file name → the version key of the library and its manifest.
    var keys: [String: String]
    var probes: [PluginProbe] = []
    /// Library file name → outcome; `fresh` holds those probed for this generation (not remembered).
    var outcomes: [String: ProbeOutcome] = [:]
    var fresh: Set<String> = []
}

/// Taking plugins: a settled folder is copied, each new plugin file version is loaded alone in
/// a probe process, and the plugins that crashed or failed there are quarantined: left out of
/// the copy workers load, logged once, and advertised as unavailable with the reason.
extension NodeLoop {
    /// Plugin files must be left alone this long before they are taken.
    static let settleTime = 0.3

    /// Starts a new generation when the folder changed and settled (never while one is probed).
    func checkPlugins(now: MonotonicInstant) {
        guard machine.isRunning, pendingGeneration == nil else { return }
        let first = snapshot.taken == 0
        // Until the first copy is taken, look on every turn: the node serves nothing before it.
        guard first || (config.reloadInterval > 0 && now - lastReloadCheck >= config.reloadInterval) else { return }
        lastReloadCheck = now
        guard snapshot.settledChange(settle: Self.settleTime) else { return }
        let (number, dir, versions) = snapshot.takeSnapshot()
        var g = PendingGeneration(number: number, dir: dir, keys: [:])
        for name in versions.keys where name.hasSuffix(".so") {
            let manifest = String(name.dropLast(3)) + ".json"
            let key = name + "=" + versions[name]! + "+" + (versions[manifest] ?? "-")
            g.keys[name] = key
            if let known = probeVerdicts[key] {
                g.outcomes[name] = known
                continue
            }
            if config.requirePins, let unpinned = PluginLoader.missingPin(library: dir + "/" + name) {
                (g.outcomes[name], probeVerdicts[key]) = (.failed(unpinned), .failed(unpinned))
                g.fresh.insert(name)
                continue
            }
            do {
                g.probes.append(try PluginProbe.start(library: dir + "/" + name, executable: config.workerExecutable,
                                                      arguments: config.workerArguments, pluginConfig: config.pluginConfig,
                                                      sandbox: probeSandboxArguments, now: now))
                g.fresh.insert(name)
            } catch {
                logger.error("cannot start a process to check plugin \(config.pluginsDir)/\(name): \(error)")
            }
        }
        pendingGeneration = g
        pollCache = nil
        pollProbes(now: now)
    }

    /// Collects the verdicts of finished probes; activates the generation once all are in.
    func pollProbes(now: MonotonicInstant) {
        guard var g = pendingGeneration else { return }
        let running = g.probes.count
        g.probes.removeAll { probe in
            guard let outcome = probe.poll(now: now).map({ cappingPaths($0, library: probe.library) }) else { return false }
            let name = (probe.library as NSString).lastPathComponent
            g.outcomes[name] = outcome
            if let key = g.keys[name] { probeVerdicts[key] = outcome }
            pollCache = nil
            return true
        }
        pendingGeneration = g
        // What a probe left running (its library's constructors or init) goes with it.
        if g.probes.count < running { sweepOrphans() }
        if g.probes.isEmpty { activate(g, now: now) }
    }

    /// A plugin that declares a path outside the node's `sandbox_read`/`sandbox_write` fails
    /// (is quarantined) naming the file, the method and the path.
    private func cappingPaths(_ outcome: ProbeOutcome, library: String) -> ProbeOutcome {
        guard case .passed(_, _, let limits) = outcome else { return outcome }
        for method in limits.keys.sorted() {
            guard let (field, cause) = config.sandbox.pathOutsideCaps(limits[method]!) else { continue }
            return .failed(PluginProblem(file: String(library.dropLast(3)) + ".json", method: method, field: field, cause: cause))
        }
        return outcome
    }

    /// Workers start on `g` from now on, without its quarantined plugins.
    private func activate(_ g: PendingGeneration, now: MonotonicInstant) {
        pendingGeneration = nil
        var unavailable: [JSONValue] = []
        for name in g.outcomes.keys.sorted() {
            guard case .failed(let problem) = g.outcomes[name]! else { continue }
            let library = g.dir + "/" + name
            let manifest = Self.manifestFacts(String(library.dropLast(3)) + ".json")
            let shown = PluginProblem(file: snapshot.sourcePath(problem.file, in: g.dir), method: problem.method,
                                      field: problem.field, cause: snapshot.sourcePath(problem.cause, in: g.dir))
            for m in manifest.methods {
                unavailable.append(["name": .string(m), "plugin": .string(manifest.plugin ?? String(name.dropLast(3))),
                                    "file": .string(snapshot.sourcePath(library, in: g.dir)), "reason": .string(shown.description)])
            }
            if g.fresh.contains(name) {
                let methods = manifest.methods.isEmpty ? "" : "; unavailable: \(manifest.methods.joined(separator: ", "))"
                logger.error("plugin quarantined: \(shown)\(methods)")
            }
            // Workers load what is left in the copy.
            try? FileManager.default.removeItem(atPath: library)
            try? FileManager.default.removeItem(atPath: String(library.dropLast(3)) + ".json")
        }
        // Forget verdicts on file versions that are gone.
        let current = Set(g.keys.values)
        probeVerdicts = probeVerdicts.filter { current.contains($0.key) }
        // The sandbox limits each method declares (the probes read them from the manifests).
        var limits: [String: SandboxLimits] = [:]
        for case .passed(_, _, let declared) in g.outcomes.values { limits.merge(declared) { first, _ in first } }
        generationDir = g.dir
        snapshot.activate(g.number)
        execute(machine.generationActivated(g.number, unavailable: unavailable, limits: limits, now: now))
    }

    /// The plugin and method names a manifest file declares, read without loading the library
    /// (so even a plugin that crashes when loaded can say which methods it takes away).
    static func manifestFacts(_ path: String) -> (plugin: String?, methods: [String]) {
        guard let text = FileManager.default.contents(atPath: path),
            let m = try? Manifest.parse(Array(text), file: path)
        else { return (nil, []) }
        return (m.name, m.methods.map(\.name))
    }

    /// Ends the probes of a generation that will not be needed (the node is stopping).
    func abandonProbes() {
        guard let g = pendingGeneration else { return }
        for p in g.probes {
            _ = p.process.killAndReap()
            p.process.closeDescriptors()
        }
        pendingGeneration = nil
    }
}
