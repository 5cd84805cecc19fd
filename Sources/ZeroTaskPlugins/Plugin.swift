import Synchronization
import ZeroTaskProtocol

/// A loaded plugin: its library, manifest facts and callable methods.
public final class Plugin: Sendable {
    typealias ShutdownFunction = @convention(c) () -> Void

    /// The manifest's plugin name (the key of its config in the host's config).
    public let name: String
    public let version: String?
    public let summary: String?
    /// The library's path.
    public let path: String
    /// Where the manifest came from: a `NAME.json` path, or `"embedded"`.
    public let manifestSource: String
    /// The methods, in manifest order.
    public let methods: [PluginMethod]
    /// The configuration `init` received (manifest defaults merged with the host's overrides).
    public let config: JSONValue
    private let shutdownFunction: UnsafeShutdown?
    private let didShutDown = Mutex(false)

    /// A C function pointer is a plain address; wrapping it documents that sharing it is safe.
    struct UnsafeShutdown: @unchecked Sendable { var function: ShutdownFunction }

    init(manifest: Manifest, path: String, manifestSource: String, methods: [PluginMethod], config: JSONValue,
         shutdown: ShutdownFunction?) {
        name = manifest.name
        version = manifest.version
        summary = manifest.description
        self.path = path
        self.manifestSource = manifestSource
        self.methods = methods
        self.config = config
        shutdownFunction = shutdown.map(UnsafeShutdown.init)
    }

    /// Calls the plugin's `shutdown` symbol, at most once.
    public func shutdown() {
        let first = didShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        if first, let f = shutdownFunction { f.function() }
    }
}
