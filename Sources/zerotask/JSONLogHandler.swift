#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import Foundation
import Logging
import ZeroTaskProtocol

/// A swift-log handler that writes one JSON object per line to standard error, for log
/// shippers (`--log-format json`): `time` (RFC 3339, UTC, milliseconds), `level`, `label`,
/// `message`, then each metadata key as a member of its own (`kind`, `node_id`, `task_id`,
/// `method`, …; a key that would shadow one of the first four is prefixed with `meta_`).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        logLevel = level
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var o = JSONObject()
        o.append("time", .string(Self.timestamp(Date())))
        o.append("level", .string(event.level.rawValue))
        o.append("label", .string(label))
        o.append("message", .string(event.message.description))
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            o.append(Self.reserved.contains(key) ? "meta_" + key : key, Self.json(value))
        }
        // One write per line: lines from several threads never interleave.
        let bytes = JSONValue.object(o).jsonBytes + [UInt8(ascii: "\n")]
        bytes.withUnsafeBufferPointer { _ = write(2, $0.baseAddress, $0.count) }
    }

    static let reserved: Set<String> = ["time", "level", "label", "message"]

    static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(JSONObject(d.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) }))
        }
    }

    /// `2026-12-02T19:30:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), min(ms, 999))
    }
}
