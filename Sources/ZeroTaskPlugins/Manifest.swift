import ZeroTaskProtocol

/// A plugin's manifest, validated: what the library must export and how to call it.
///
/// Parsing checks everything that can be checked without the library (types, names, duplicates,
/// ABI version); the loader then resolves the symbols.
public struct Manifest: Sendable, Equatable {
    /// The ABI this host implements (`ZEROTASK_PLUGIN_ABI` in the SDK header).
    public static let supportedABI: Int64 = 1

    public var name: String
    public var version: String?
    public var description: String?
    /// The pinned SHA-256 of the library, 64 lowercase hex digits.
    public var sha256: String?
    public var initSymbol: String?
    public var shutdownSymbol: String?
    /// The plugin's default configuration, passed to `init` (after the host's overrides).
    public var config: JSONValue
    /// The sandbox limits the plugin declares for all its methods (each method's `limits`
    /// already includes them).
    public var limits: SandboxLimits
    /// The retry, concurrency and rate defaults the plugin declares for each of its methods (each
    /// method's `policy` already includes them).
    public var policy: MethodPolicy
    public var methods: [MethodManifest]

    static let topLevelFields = Set([
        "abi", "name", "version", "description", "sha256", "init", "shutdown", "config", "limits", "methods",
    ] + MethodPolicy.fields)

    /// Reads and validates a manifest; problems name `file`, the method and the field.
    public static func parse(_ json: JSONValue, file: String) throws(PluginProblem) -> Manifest {
        let r = ManifestReader(file: file)
        guard case .object(let o) = json else { throw r.problem(nil, nil, "a manifest must be a JSON object, not \(json.typeName)") }
        for key in o.keys where !topLevelFields.contains(key) {
            throw r.problem(nil, key, "unknown field (known: \(topLevelFields.sorted().joined(separator: ", ")))")
        }
        guard let abiValue = o["abi"] else { throw r.problem(nil, "abi", "missing (this host supports ABI \(supportedABI))") }
        guard let abi = abiValue.int64Value, abi == supportedABI else {
            throw r.problem(nil, "abi", "unsupported ABI version \(abiValue) (this host supports \(supportedABI))")
        }
        let name = try r.string(o, "name", in: nil)
        guard Identifier.isValidMethodName(name) else {
            throw r.problem(nil, "name", "bad plugin name \"\(name)\" (letters, digits, '_', '.', '-'; not starting with a digit)")
        }
        var m = Manifest(
            name: name,
            version: try r.optionalString(o, "version", in: nil),
            description: try r.optionalString(o, "description", in: nil),
            sha256: nil,
            initSymbol: try r.optionalSymbol(o, "init", in: nil),
            shutdownSymbol: try r.optionalSymbol(o, "shutdown", in: nil),
            config: o["config"] ?? .object([:]),
            limits: try SandboxLimits.parse(o["limits"], field: "limits", method: nil, reader: r),
            policy: try r.policy(o, in: nil, method: nil),
            methods: []
        )
        if let pin = try r.optionalString(o, "sha256", in: nil) {
            let lower = pin.lowercased()
            guard lower.utf8.count == 64, lower.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw r.problem(nil, "sha256", "must be 64 hex digits, not \"\(pin)\"")
            }
            m.sha256 = lower
        }
        guard case .array(let list)? = o["methods"] else {
            throw r.problem(nil, "methods", o["methods"] == nil ? "missing" : "must be an array of method objects")
        }
        guard !list.isEmpty else { throw r.problem(nil, "methods", "the plugin declares no methods") }
        var seen: Set<String> = []
        for (i, entry) in list.enumerated() {
            let method = try MethodManifest.parse(entry, field: "methods[\(i)]", pluginLimits: m.limits, pluginPolicy: m.policy, reader: r)
            guard seen.insert(method.name).inserted else {
                throw r.problem(method.name, "methods[\(i)].name", "duplicate method name")
            }
            m.methods.append(method)
        }
        return m
    }

    /// Reads manifest text (a `NAME.json` file or the exported `zerotask_manifest` string).
    public static func parse(_ bytes: [UInt8], file: String) throws(PluginProblem) -> Manifest {
        let json: JSONValue
        do {
            json = try JSONValue.parse(bytes)
        } catch {
            throw PluginProblem(file: file, cause: "the manifest is not valid JSON: \(error)")
        }
        return try parse(json, file: file)
    }
}

/// Field readers that turn a wrong manifest into a `PluginProblem` naming the field.
struct ManifestReader {
    let file: String

    func problem(_ method: String?, _ field: String?, _ cause: String) -> PluginProblem {
        PluginProblem(file: file, method: method, field: field, cause: cause)
    }

    func path(_ prefix: String?, _ key: String) -> String { prefix.map { "\($0).\(key)" } ?? key }

    func string(_ o: JSONObject, _ key: String, in prefix: String?, method: String? = nil) throws(PluginProblem) -> String {
        guard let v = o[key] else { throw problem(method, path(prefix, key), "missing") }
        guard case .string(let s) = v else { throw problem(method, path(prefix, key), "must be a string, not \(v.typeName)") }
        return s
    }

    func optionalString(_ o: JSONObject, _ key: String, in prefix: String?, method: String? = nil) throws(PluginProblem) -> String? {
        guard o[key] != nil else { return nil }
        return try string(o, key, in: prefix, method: method)
    }

    /// The retry, concurrency and rate fields of `o` (at the top level when `prefix` is nil).
    func policy(_ o: JSONObject, in prefix: String?, method: String?) throws(PluginProblem) -> MethodPolicy {
        do {
            return try MethodPolicy(reading: o, prefix: prefix)
        } catch {
            throw problem(method, error.field, error.message)
        }
    }

    /// A C symbol name: `[A-Za-z_][A-Za-z0-9_]*`, so that nothing odd reaches `dlsym`.
    func optionalSymbol(_ o: JSONObject, _ key: String, in prefix: String?, method: String? = nil) throws(PluginProblem) -> String? {
        guard let s = try optionalString(o, key, in: prefix, method: method) else { return nil }
        guard Self.isCIdentifier(s) else { throw problem(method, path(prefix, key), "bad symbol name \"\(s)\"") }
        return s
    }

    static func isCIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= 255, !(first >= 0x30 && first <= 0x39) else { return false }
        return s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == UInt8(ascii: "_")
        }
    }
}
