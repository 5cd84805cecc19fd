#if canImport(Glibc)
import Glibc
#endif
import CFFI
import Logging
import ZeroTaskProtocol

/// Loads one plugin: manifest, pin, `dlopen`, symbols, call interfaces, then `init`.
///
/// Every step that can fail does so before the plugin's `init` runs, so a plugin that is
/// skipped never had its code started (beyond the library's own constructors).
public struct PluginLoader: Sendable {
    /// Per-plugin configuration from the host, keyed by plugin name; overrides the manifest's `config`.
    public var config: [String: JSONValue]
    public var logger: Logger

    public init(config: [String: JSONValue] = [:], logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Loads the library at `path` (a `NAME.so`, its manifest `NAME.json` beside it or embedded).
    ///
    /// - Parameter accept: called with the validated manifest before `init` runs; a problem it
    ///   returns skips the plugin (the set uses it to refuse a name another plugin already has).
    public func load(path: String, accept: (Manifest) -> PluginProblem? = { _ in nil }) throws(PluginProblem) -> Plugin {
        let jsonPath = Self.manifestPath(forLibrary: path)
        var manifest: Manifest?
        if FileSystem.exists(jsonPath) {
            let text: [UInt8]
            do { text = try FileSystem.read(jsonPath) } catch { throw PluginProblem(file: jsonPath, cause: "\(error)") }
            let m = try Manifest.parse(text, file: jsonPath)
            if let pin = m.sha256 { try Self.checkPin(pin, path: path) }
            manifest = m
        }
        let library: DynamicLibrary
        do { library = try DynamicLibrary(path: path) } catch { throw PluginProblem(file: path, cause: "cannot load: \(error)") }
        let m: Manifest
        if let manifest { m = manifest } else { m = try Self.embeddedManifest(library, path: path) }
        if let problem = accept(m) { throw problem }
        let manifestFile = manifest == nil ? path : jsonPath

        var methods: [PluginMethod] = []
        for (i, mm) in m.methods.enumerated() {
            methods.append(try prepare(mm, field: "methods[\(i)]", library: library, plugin: m.name, manifestFile: manifestFile))
        }
        var initFunction: UnsafeMutableRawPointer?
        if let s = m.initSymbol { initFunction = try Self.resolve(s, in: library, file: manifestFile, method: nil, field: "init") }
        var shutdown: Plugin.ShutdownFunction?
        if let s = m.shutdownSymbol {
            let p = try Self.resolve(s, in: library, file: manifestFile, method: nil, field: "shutdown")
            shutdown = unsafeBitCast(p, to: Plugin.ShutdownFunction.self)
        }
        let merged = Self.merge(m.config, config[m.name])
        if let initFunction {
            typealias InitFunction = @convention(c) (UnsafePointer<CChar>?) -> Int32
            let status = merged.jsonString.withCString { unsafeBitCast(initFunction, to: InitFunction.self)($0) }
            guard status == 0 else { throw PluginProblem(file: path, field: "init", cause: "init failed (it returned \(status))") }
        }
        return Plugin(manifest: m, path: path, manifestSource: manifest == nil ? "embedded" : jsonPath,
                      methods: methods, config: merged, shutdown: shutdown)
    }

    /// `dir/NAME.so` → `dir/NAME.json`.
    static func manifestPath(forLibrary path: String) -> String {
        (path.hasSuffix(".so") ? String(path.dropLast(3)) : path) + ".json"
    }

    /// For a host that requires pins (`node.require_pins`): why the library at `path` may not
    /// load, when its manifest file pins no `sha256` or there is no manifest file (a manifest
    /// inside the library cannot pin it); nil when it is pinned. The problem names the plugin,
    /// the manifest and the hash to pin. Whether a pin matches is checked when loading.
    public static func missingPin(library path: String) -> PluginProblem? {
        let jsonPath = manifestPath(forLibrary: path)
        // Read and hashed only to say what to pin: a pinned library is hashed once, when loaded.
        func hash() -> String { (try? FileSystem.read(path)).map { SHA256.hex(of: $0) } ?? "?" }
        guard FileSystem.exists(jsonPath) else {
            return PluginProblem(file: path, field: "sha256",
                cause: "pins are required (node.require_pins) and there is no manifest \(jsonPath) to pin it in (a manifest inside the library cannot); not loaded. Its sha256 is \(hash())")
        }
        // A manifest that does not parse is the loader's to report.
        guard let text = try? FileSystem.read(jsonPath), let m = try? Manifest.parse(text, file: jsonPath), m.sha256 == nil else {
            return nil
        }
        return PluginProblem(file: jsonPath, field: "sha256",
            cause: "pins are required (node.require_pins) and plugin \"\(m.name)\" has no sha256 pin; not loaded. Pin it with \"sha256\": \"\(hash())\"")
    }

    static func checkPin(_ pin: String, path: String) throws(PluginProblem) {
        let bytes: [UInt8]
        do { bytes = try FileSystem.read(path) } catch { throw PluginProblem(file: path, field: "sha256", cause: "\(error)") }
        let actual = SHA256.hex(of: bytes)
        guard actual == pin else {
            throw PluginProblem(file: path, field: "sha256", cause: "pin mismatch: the manifest pins \(pin), the file hashes to \(actual); not loaded")
        }
    }

    static func embeddedManifest(_ library: DynamicLibrary, path: String) throws(PluginProblem) -> Manifest {
        guard let symbol = library.symbol("zerotask_manifest") else {
            throw PluginProblem(file: path, cause: "no manifest: neither \(manifestPath(forLibrary: path)) nor an exported zerotask_manifest")
        }
        // The symbol is a `const char *` variable: its address holds the pointer to the text.
        guard let text = symbol.load(as: UnsafePointer<CChar>?.self) else {
            throw PluginProblem(file: path, field: "zerotask_manifest", cause: "the exported manifest pointer is NULL")
        }
        let m = try Manifest.parse(Array(UnsafeRawBufferPointer(start: text, count: strlen(text))), file: path)
        if m.sha256 != nil {
            throw PluginProblem(file: path, field: "sha256", cause: "a pin inside the library cannot protect it (it is read after loading); put it in \(manifestPath(forLibrary: path))")
        }
        return m
    }

    static func resolve(_ symbol: String, in library: DynamicLibrary, file: String, method: String?,
                        field: String) throws(PluginProblem) -> UnsafeMutableRawPointer {
        guard let p = library.symbol(symbol) else {
            throw PluginProblem(file: file, method: method, field: field, cause: "symbol \"\(symbol)\" not found in \(library.path)")
        }
        return p
    }

    private func prepare(_ m: MethodManifest, field: String, library: DynamicLibrary, plugin: String,
                         manifestFile: String) throws(PluginProblem) -> PluginMethod {
        let function = try Self.resolve(m.symbol, in: library, file: manifestFile, method: m.name, field: "\(field).symbol")
        let descriptor = MethodDescriptor(m, plugin: plugin)
        let methodLogger = { var l = logger; l[metadataKey: "plugin"] = "\(plugin)"; return l }()
        do {
            switch m.abi {
            case .json:
                let cif = try CallInterface(function: function, arguments: [zt_ffi_type_pointer(), zt_ffi_type_pointer(), ValueType.sizeTFFIType],
                                            returns: zt_ffi_type_sint32())
                return PluginMethod(descriptor: descriptor, kind: .json(JSONParamSignature(m)), callInterface: cif, library: library, logger: methodLogger)
            case .c:
                let signature = TypedSignature(m)
                var free: PluginMethod.FreeFunction?
                if let s = m.returns.freeSymbol {
                    let p = try Self.resolve(s, in: library, file: manifestFile, method: m.name, field: "\(field).returns.free")
                    free = unsafeBitCast(p, to: PluginMethod.FreeFunction.self)
                }
                let cif = try CallInterface(function: function, arguments: signature.ffiArguments, returns: m.returns.type.ffiType)
                return PluginMethod(descriptor: descriptor, kind: .typed(signature, free: free), callInterface: cif,
                                    library: library, logger: methodLogger)
            }
        } catch let error as CallInterface.PreparationError {
            throw PluginProblem(file: manifestFile, method: m.name, cause: "\(error)")
        } catch let error as PluginProblem {
            throw error
        } catch {
            throw PluginProblem(file: manifestFile, method: m.name, cause: "\(error)")
        }
    }

    /// The manifest's config with the host's override on top: objects merge key by key (the host
    /// wins), anything else is replaced.
    static func merge(_ base: JSONValue, _ override: JSONValue?) -> JSONValue {
        guard let override else { return base }
        guard case .object(var merged) = base, case .object(let top) = override else { return override }
        for m in top.members { merged[m.key] = m.value }
        return .object(merged)
    }
}
