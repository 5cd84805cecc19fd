import ZeroTaskProtocol

/// The text `zerotask plugins check` and `zerotask plugins list` print, kept here so it is
/// tested without running the executable.
public enum PluginReport {
    /// One line per plugin file: `ok    math 1.0.0: 6 methods (Plugins/math.so)` or
    /// `FAIL  Plugins/lying.json: method "lying.missing": …`; then a summary line.
    /// - Returns: the text, and whether every plugin loaded.
    public static func check(_ set: PluginSet, problems: [PluginProblem]) -> (text: String, ok: Bool) {
        var lines: [String] = []
        for (file, verdict) in set.verdicts {
            switch verdict {
            case .loaded(let name, let version, let count):
                lines.append("ok    \(name)\(version.map { " " + $0 } ?? ""): \(count) method\(count == 1 ? "" : "s") (\(file))")
            case .skipped(let problem):
                lines.append("FAIL  \(problem)")
            }
        }
        // Problems that belong to no plugin file (an unreadable directory).
        for p in problems where !set.verdicts.contains(where: { if case .skipped(let q) = $0.verdict { q == p } else { false } }) {
            lines.append("FAIL  \(p)")
        }
        let failed = lines.filter { $0.hasPrefix("FAIL") }.count
        // A folder with nothing to serve is a problem too: usually the wrong folder, or no build.
        if lines.isEmpty { lines.append("FAIL  no plugins found (no NAME.so in the folder; build them with Plugins/build.sh?)") }
        lines.append("\(set.plugins.count) plugin\(set.plugins.count == 1 ? "" : "s") loaded, \(failed) with problems")
        return (lines.joined(separator: "\n"), failed == 0 && !set.verdicts.isEmpty)
    }

    /// Every method with its signature and doc, grouped by plugin; or, with `json`, the methods'
    /// advertised descriptions as one JSON array.
    ///
    /// `limits` gives the sandbox limits in force for a method's declared ones (the host fills in
    /// defaults and caps): shown under each method, and as `"limits"` in the JSON form.
    public static func list(_ set: PluginSet, json: Bool,
                            limits: ((SandboxLimits) -> (text: String, json: JSONValue))? = nil) -> String {
        if json {
            return JSONValue.array(set.methods.map { m in
                guard let limits, case .object(var o) = m.json else { return m.json }
                o.append("limits", limits(m.limits).json)
                return .object(o)
            }).jsonString
        }
        var lines: [String] = []
        for p in set.plugins {
            var heading = p.name + (p.version.map { " " + $0 } ?? "")
            if let s = p.summary { heading += " — " + s }
            lines.append("\(heading)  (\(p.path))")
            let signatures = p.methods.map(\.descriptor.signature)
            let width = signatures.map(\.count).max() ?? 0
            for (m, signature) in zip(p.methods, signatures) {
                var line = "  " + signature
                var notes: [String] = []
                if let doc = m.descriptor.doc { notes.append(doc) }
                if let t = m.descriptor.timeout { notes.append("timeout \(formatSeconds(t)) s") }
                if !notes.isEmpty { line += String(repeating: " ", count: width - signature.count) + "  " + notes.joined(separator: "; ") }
                lines.append(line)
                if let limits { lines.append("      limits: " + limits(m.descriptor.limits).text) }
            }
        }
        if lines.isEmpty { lines.append("no methods") }
        return lines.joined(separator: "\n")
    }

    static func formatSeconds(_ t: Double) -> String {
        t == t.rounded() && abs(t) < 1e15 ? String(Int64(t)) : String(t)
    }
}
