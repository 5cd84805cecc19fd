import Logging

/// What a running method may reach in its host through `zt_context`: progress, cancellation, log.
///
/// The node implements it per task (progress becomes task status at the broker). A plugin may
/// call these from any thread while its call lasts, hence `Sendable`. Every requirement has a
/// do-nothing default.
public protocol PluginTaskHost: AnyObject, Sendable {
    /// The method reports progress: `fraction` clamped to 0...1, and an optional message.
    func progress(_ fraction: Double, _ message: String?)
    /// Whether the task was cancelled; plugins poll it through `ctx->cancelled(ctx)`.
    var isCancelled: Bool { get }
    /// The method writes a log line (`ctx->log`).
    func log(level: Logger.Level, _ message: String)
}

extension PluginTaskHost {
    public func progress(_ fraction: Double, _ message: String?) {}
    public var isCancelled: Bool { false }
    public func log(level: Logger.Level, _ message: String) {}
}

extension Logger.Level {
    /// The level for a `ZT_LOG_*` value; out-of-range values are clamped.
    init(pluginLevel: Int32) {
        switch pluginLevel {
        case ..<1: self = .trace
        case 1: self = .debug
        case 2: self = .info
        case 3: self = .notice
        case 4: self = .warning
        case 5: self = .error
        default: self = .critical
        }
    }
}
