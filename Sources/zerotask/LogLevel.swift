import Logging

/// Reads a log level setting (`broker.log_level`, `node.log_level`) and sends every logger to
/// standard error at that level.
enum LogLevel {
    static let names = "trace, debug, info, notice, warning, error or critical"

    /// - Throws: `Settings.ValidationFailure` naming `key` when the value is no level.
    static func bootstrap(_ settings: Settings, key: String, flag: String?) throws {
        let name = settings.string(key, flag, default: Settings.Defaults.logLevel)
        guard let level = Logger.Level(rawValue: name.lowercased()) else {
            throw Settings.ValidationFailure("\(key) must be \(names), not \"\(name)\"")
        }
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}
