import Foundation
import ZeroTaskBroker
import ZeroTaskProtocol

/// A configuration file, read and checked against `Settings.knownKeys`: its scalar settings with
/// their lines, and `node.plugin_config` as JSON.
///
/// libyaml parses it (`YAMLNode`), keeping each node's line, so that a misspelt key is reported
/// with the line it stands on.
struct SettingsFile {
    struct Entry {
        var key: String
        var text: String
        var line: Int
    }

    private(set) var entries: [Entry] = []
    private(set) var pluginConfig: [String: JSONValue] = [:]
    /// `broker.methods`: method name to its limits (as JSON), and the line each stands on.
    private(set) var methods: [String: JSONValue] = [:]
    private(set) var methodLines: [String: Int] = [:]
    /// `broker.schedules`: periodic schedules, each checked whole (SettingsFile+Schedules.swift).
    private(set) var schedules: [Schedule] = []

    /// - Throws: `Settings.FileError` naming `path` (and the line where there is one) when the
    ///   file cannot be read, is not YAML, is not sections of settings, or holds an unknown key.
    init(path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Settings.FileError(file: path, line: 0, reason: "cannot read the configuration file: \(Self.unreadable(path))")
        }
        let root: YAMLNode?
        do {
            root = try YAMLNode.parse(text)
        } catch {
            throw Settings.FileError(file: path, line: error.line, reason: "not valid YAML: \(error.problem)")
        }
        // A file of comments only holds nothing.
        guard let root, !Self.isNull(root) else { return }
        guard let sections = root.mapping else {
            throw Settings.FileError(file: path, line: Self.line(root), reason: "expected sections (broker:, node:, client:, security:) of \"key: value\" settings")
        }
        for (sectionKey, section) in sections {
            let name = sectionKey.string ?? ""
            guard Settings.knownKeys.contains(where: { $0.hasPrefix(name + ".") }) else {
                throw Self.unknown(name, at: sectionKey, in: path, candidates: ["broker", "node", "client", "security"])
            }
            if Self.isNull(section) { continue }
            guard let settings = section.mapping else {
                throw Settings.FileError(file: path, line: Self.line(section), reason: "\(name) must hold \"key: value\" settings")
            }
            for (key, value) in settings {
                let full = name + "." + (key.string ?? "")
                guard Settings.knownKeys.contains(full) else {
                    throw Self.unknown(full, at: key, in: path, candidates: Settings.knownKeys)
                }
                if full == "node.plugin_config" {
                    pluginConfig = try Self.plugins(value, path: path)
                } else if full == "broker.methods" {
                    guard Self.isNull(value) || value.mapping != nil else {
                        throw Settings.FileError(file: path, line: Self.line(value), reason: "broker.methods must map method names to their limits, like math.add: {concurrency: 4, rate: 100/s}")
                    }
                    for (name, limits) in value.mapping ?? [] {
                        methods[name.string ?? ""] = Self.json(limits)
                        methodLines[name.string ?? ""] = Self.line(name)
                    }
                } else if full == "broker.schedules" {
                    schedules = try Self.schedules(value, path: path)
                } else if let scalar = value.string {
                    entries.append(Entry(key: full, text: scalar, line: Self.line(key)))
                } else if Self.listKeys.contains(full), let items = value.sequence, let texts = Self.scalars(items) {
                    // A failover list of brokers, as a YAML list: the same as the comma string.
                    entries.append(Entry(key: full, text: texts.joined(separator: ","), line: Self.line(key)))
                } else {
                    throw Settings.FileError(file: path, line: Self.line(value), reason: "\(full) must be a single value")
                }
            }
        }
    }

    /// Keys that may hold a YAML list of plain values (read as the values separated by commas).
    static let listKeys: Set<String> = ["node.broker", "client.broker"]

    private static func scalars(_ items: [YAMLNode]) -> [String]? {
        var out: [String] = []
        for item in items {
            guard let s = item.string else { return nil }
            out.append(s)
        }
        return out.isEmpty ? nil : out
    }

    private static func plugins(_ node: YAMLNode, path: String) throws -> [String: JSONValue] {
        if isNull(node) { return [:] }
        guard let mapping = node.mapping else {
            throw Settings.FileError(file: path, line: line(node), reason: "node.plugin_config must map plugin names to their configuration")
        }
        var out: [String: JSONValue] = [:]
        for (name, value) in mapping { out[name.string ?? ""] = json(value) }
        return out
    }

    /// A YAML value as JSON: plain scalars by what they look like (numbers, booleans, null).
    static func json(_ node: YAMLNode) -> JSONValue {
        switch node.kind {
        case .scalar(let s, let plain):
            if plain {
                if isNull(node) { return .null }
                if let b = bool(s) { return .bool(b) }
                if let i = Int64(s) { return .int(i) }
                if let d = Double(s.replacingOccurrences(of: "_", with: "")), d.isFinite { return .double(d) }
            }
            return .string(s)
        case .mapping(let m):
            return .object(JSONObject(m.map { ($0.key.string ?? "", json($0.value)) }))
        case .sequence(let q):
            return .array(q.map(json))
        }
    }

    /// YAML 1.1's booleans (what libyaml's users, Yams and PyYAML among them, read as true or false).
    static func bool(_ s: String) -> Bool? {
        switch s {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON": true
        case "false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF": false
        default: nil
        }
    }

    static func isNull(_ node: YAMLNode) -> Bool {
        guard node.isPlainScalar, let s = node.string else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s)
    }

    static func unknown(_ key: String, at node: YAMLNode, in path: String, candidates: [String]) -> Settings.FileError {
        let nearest = candidates.min { distance(key, $0) < distance(key, $1) }
        return Settings.FileError(file: path, line: line(node),
            reason: "unknown key \(key)" + (nearest.map { "; did you mean \($0)?" } ?? ""))
    }

    /// Levenshtein distance: the fewest one-character edits from `a` to `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }

    static func line(_ node: YAMLNode) -> Int { node.line }

    /// Why `path` could not be read, in the words of `ls`.
    private static func unreadable(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "it is a directory" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return "it is not UTF-8 text"
    }
}
