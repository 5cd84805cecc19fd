/// Why a plugin was skipped: the file, and where known the method and manifest field, and the cause.
///
/// The description is the one log line a user sees, e.g.
/// `Plugins/math.json: method "math.add": params[1].type: unknown type "int128" (…)`.
public struct PluginProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file at fault: the manifest (`NAME.json`) or the library (`NAME.so`).
    public var file: String
    /// The method concerned, when the problem is in one method.
    public var method: String?
    /// The manifest field concerned (`abi`, `methods[2].params[0].type`, …), when there is one.
    public var field: String?
    /// What is wrong, in words.
    public var cause: String

    public init(file: String, method: String? = nil, field: String? = nil, cause: String) {
        self.file = file
        self.method = method
        self.field = field
        self.cause = cause
    }

    public var description: String {
        var s = file + ": "
        if let method { s += "method \"\(method)\": " }
        if let field { s += "\(field): " }
        return s + cause
    }
}

/// The verdict on one plugin file, as `zerotask plugins check` prints it.
public enum PluginVerdict: Sendable, Equatable {
    /// Loaded: its name, version and method count.
    case loaded(name: String, version: String?, methods: Int)
    /// Skipped, with the reason.
    case skipped(PluginProblem)
}
