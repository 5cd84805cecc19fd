import ZeroTaskBroker
import ZeroTaskProtocol

/// `broker.schedules` in the configuration file: a list of schedules, each a mapping of the
/// fields `admin_schedule_add` takes (PROTOCOL.md), read by the broker's own decoder
/// (`Schedule.init(definition:…)`). A misspelt field is an error naming the file, its line and
/// the nearest field; so is a value the decoder refuses (a cron expression, a time zone).
extension SettingsFile {
    static func schedules(_ node: YAMLNode, path: String) throws -> [Schedule] {
        if isNull(node) { return [] }
        guard let list = node.sequence else {
            throw Settings.FileError(file: path, line: line(node),
                reason: "broker.schedules must be a list of schedules (- name: …, method: …, cron: … or every: …)")
        }
        var out: [Schedule] = []
        var seen: [String: Int] = [:]
        for (i, entry) in list.enumerated() {
            let context = "broker.schedules[\(i)]"
            guard let mapping = entry.mapping else {
                throw Settings.FileError(file: path, line: line(entry), reason: "\(context) must be a mapping (name: …, method: …, cron: … or every: …)")
            }
            for (key, _) in mapping where !Schedule.definitionFields.contains(key.string ?? "") {
                let e = unknown(key.string ?? "", at: key, in: path, candidates: Schedule.definitionFields)
                throw Settings.FileError(file: e.file, line: e.line, reason: "\(context): \(e.reason)")
            }
            guard case .object(let definition) = json(entry) else { continue }
            let schedule: Schedule
            do throws(RPCError) {
                schedule = try Schedule(definition: definition, context: context, origin: .config, last: 0)
            } catch {
                throw Settings.FileError(file: path, line: line(entry), reason: error.message)
            }
            if let first = seen[schedule.name] {
                throw Settings.FileError(file: path, line: line(entry), reason: "\(context): a schedule named \"\(schedule.name)\" is defined already (line \(first))")
            }
            seen[schedule.name] = line(entry)
            out.append(schedule)
        }
        return out
    }
}
