import Foundation
import ZeroTaskProtocol

/// Settings from the configuration file and the environment, for flags left unset.
///
/// Precedence, highest first: a command-line flag, an environment variable
/// (`ZEROTASK_SECTION_KEY`, e.g. `ZEROTASK_NODE_WORKERS=4`), the file (`--config PATH`, else
/// `$ZEROTASK_CONFIG`, else `config/zerotask.yaml` when it exists), the built-in default.
///
/// The file is YAML limited to what configuration needs — nested sections by indentation,
/// `key: value` scalars, `#` comments, inline JSON values — or JSON (by a `.json` extension).
struct Settings {
    private(set) var values: [String: String] = [:]
    let source: String?
    let environment: [String: String]

    struct FileError: Error, CustomStringConvertible {
        var file: String
        var line: Int
        var reason: String
        var description: String { "\(file):\(line): \(reason)" }
    }

    init(file explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.environment = environment
        let path = explicit ?? environment["ZEROTASK_CONFIG"] ?? (FileManager.default.fileExists(atPath: "config/zerotask.yaml") ? "config/zerotask.yaml" : nil)
        source = path
        guard let path else { return }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw FileError(file: path, line: 0, reason: "cannot read the configuration file")
        }
        values = path.hasSuffix(".json") ? try Self.parseJSON(text, file: path) : try Self.parseYAML(text, file: path)
    }

    /// The raw text for `section.key`: environment first, then the file.
    func raw(_ key: String) -> String? {
        let env = "ZEROTASK_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
        return environment[env] ?? values[key]
    }

    func string(_ key: String, _ flag: String?, default d: String) -> String { flag ?? raw(key) ?? d }
    func optionalString(_ key: String, _ flag: String?) -> String? { flag ?? raw(key) }

    func int(_ key: String, _ flag: Int?, default d: Int) throws -> Int {
        if let flag { return flag }
        guard let r = raw(key) else { return d }
        guard let v = Int(r) else { throw ValidationFailure("\(key) must be an integer, not \"\(r)\"") }
        return v
    }

    func double(_ key: String, _ flag: Double?, default d: Double) throws -> Double {
        if let flag { return flag }
        guard let r = raw(key) else { return d }
        guard let v = Double(r) else { throw ValidationFailure("\(key) must be a number, not \"\(r)\"") }
        return v
    }

    /// Every `prefix.NAME` key, with its value read as JSON (bare words as strings).
    func jsonValues(under prefix: String) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (k, v) in values where k.hasPrefix(prefix + ".") {
            out[String(k.dropFirst(prefix.count + 1))] = (try? JSONValue.parse(v)) ?? .string(v)
        }
        return out
    }

    struct ValidationFailure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = "configuration: " + d }
    }

    static func parseYAML(_ text: String, file: String) throws -> [String: String] {
        var out: [String: String] = [:]
        var stack: [(indent: Int, key: String)] = []
        for (i, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = stripComment(String(rawLine))
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let indent = line.prefix { $0 == " " }.count
            let body = line.trimmingCharacters(in: .whitespaces)
            guard let colon = body.firstIndex(of: ":") else {
                throw FileError(file: file, line: i + 1, reason: "expected \"key: value\"")
            }
            let key = String(body[..<colon]).trimmingCharacters(in: .whitespaces)
            var value = String(body[body.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            let path = (stack.map(\.key) + [key]).joined(separator: ".")
            if value.isEmpty {
                stack.append((indent, key))
                continue
            }
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                value = String(value.dropFirst().dropLast())
            }
            out[path] = value
        }
        return out
    }

    /// Drops a `#` comment that is not inside quotes or an inline JSON value.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var depth = 0
        var previous: Character = " "
        for (i, c) in zip(line.indices, line) {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "{" || c == "[" {
                depth += 1
            } else if c == "}" || c == "]" {
                depth -= 1
            } else if c == "#" && depth == 0 && (previous == " " || i == line.startIndex) {
                return String(line[..<i])
            }
            previous = c
        }
        return line
    }

    static func parseJSON(_ text: String, file: String) throws -> [String: String] {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch { throw FileError(file: file, line: 0, reason: "not JSON: \(error)") }
        var out: [String: String] = [:]
        func walk(_ v: JSONValue, _ path: String) {
            if case .object(let o) = v, path.components(separatedBy: ".").count < 3 || path.isEmpty {
                for m in o.members { walk(m.value, path.isEmpty ? m.key : path + "." + m.key) }
            } else if case .string(let s) = v {
                out[path] = s
            } else {
                out[path] = v.jsonString
            }
        }
        walk(value, "")
        return out
    }
}
