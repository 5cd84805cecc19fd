import Logging

/// Reads the log settings of a service (`broker.log_level` and `broker.log_format`, the same
/// for `node`) and sends every logger to standard error at that level, as text or JSON lines.
enum LogLevel {
    static let names = "trace, debug, info, notice, warning, error or critical"
    static let formats = "text or json"

    /// - Throws: `Settings.ValidationFailure` naming the key when a value is not one it takes.
    static func bootstrap(_ settings: Settings, section: String, level flag: String?, format formatFlag: String?) throws {
        let key = section + ".log_level"
        let name = settings.string(key, flag, default: Settings.Defaults.logLevel)
        guard let level = Logger.Level(rawValue: name.lowercased()) else {
            throw Settings.ValidationFailure("\(key) must be \(names), not \"\(name)\"")
        }
        let formatKey = section + ".log_format"
        let format = settings.string(formatKey, formatFlag, default: Settings.Defaults.logFormat)
        switch format.lowercased() {
        case "text":
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = level
                return h
            }
        case "json":
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
        default:
            throw Settings.ValidationFailure("\(formatKey) must be \(formats), not \"\(format)\"")
        }
    }
}
