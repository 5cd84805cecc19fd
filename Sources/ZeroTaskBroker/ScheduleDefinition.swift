import ZeroTaskProtocol

/// A schedule as people write it, read once: the params of `admin_schedule_add`, an entry of
/// the config file's `broker.schedules`, and a row of the store's `schedules` table all take
/// the same fields, and all go through `Schedule.init(definition:origin:last:)`.
extension Schedule {
    /// The fields of a definition, in positional order (`admin_schedule_add` adds `replace`).
    public static let definitionFields = ["name", "method", "params", "cron", "time_zone", "every", "missed", "priority", "timeout"]

    /// Reads a definition's fields from `p` (named by `p.method` in its errors).
    /// - Throws: -32602 naming the field: a bad name or method, a cron expression or time
    ///   zone that does not parse, `cron` and `every` both or neither, an unknown policy.
    init(_ p: ParamBinder, origin: Origin, last: Int64) throws(RPCError) {
        let where_ = p.method
        let name = try p.string("name")
        guard Schedule.isValidName(name) else {
            throw .invalidParams("\(where_): param \"name\" must be 1-64 of A-Z a-z 0-9 . _ - (starting with a letter or digit), not \"\(name)\"")
        }
        let method = try p.string("method")
        guard Identifier.isValidMethodName(method), !Identifier.isReservedMethodName(method) else {
            throw .invalidParams("\(where_): param \"method\": \"\(method)\" is not a method name a task may call")
        }
        let params = p.value("params") ?? .array([])
        guard Params(json: params) != nil else {
            throw .invalidParams("\(where_): param \"params\" must be an array or an object, not \(params.typeName)")
        }
        let every: String?
        switch p.value("every") {
        case nil: every = nil
        case .string(let s)?: every = s
        case let v? where v.int64Value != nil: every = String(v.int64Value!)
        case let v?: throw .invalidParams("\(where_): param \"every\" must be seconds (30) or a duration (\"30s\", \"5m\", \"2h\", \"1d\"), not \(v.typeName)")
        }
        let cron = try p.optionalString("cron"), zone = try p.optionalString("time_zone")
        let trigger: ScheduleTrigger
        do throws(CronError) {
            trigger = try ScheduleTrigger(cron: cron, timeZone: zone, every: every)
        } catch {
            throw .invalidParams("\(where_): \(error.description)")
        }
        var missed = MissedTicks.runOnce
        if let m = try p.optionalString("missed") {
            guard let policy = MissedTicks(rawValue: m) else {
                throw .invalidParams("\(where_): param \"missed\" must be \(MissedTicks.allCases.map(\.rawValue).joined(separator: " or ")), not \"\(m)\"")
            }
            missed = policy
        }
        self.init(
            name: name, method: method, params: params, trigger: trigger, missed: missed,
            priority: try p.optionalInt("priority") ?? 0, timeout: try p.optionalSeconds("timeout"), origin: origin, last: last)
    }

    /// Reads a definition given as one JSON object (a config entry, a stored row).
    /// - Parameter context: what to name in errors (`broker.schedules[2]`).
    public init(definition: JSONObject, context: String, origin: Origin, last: Int64) throws(RPCError) {
        try self.init(try ParamBinder(.named(definition), method: context, names: Self.definitionFields, required: 2),
            origin: origin, last: last)
    }

    /// The definition's fields as JSON (what `init(definition:)` reads back).
    public var definition: JSONObject {
        var o: JSONObject = ["name": .string(name), "method": .string(method), "params": params]
        switch trigger {
        case let .cron(expression, zone):
            o.append("cron", .string(expression.description))
            o.append("time_zone", .string(zone))
        case let .every(seconds):
            o.append("every", .int(seconds))
        }
        o.append("missed", .string(missed.rawValue))
        o.append("priority", .int(priority))
        if let timeout { o.append("timeout", .double(timeout)) }
        return o
    }

    /// The task a tick submits: the schedule's method, params and options; its id is the
    /// tick's (`ScheduleTick.taskID`), under the schedule's own client.
    func submission(for tick: ScheduleTick) -> Submission {
        Submission(method: method, params: params, taskID: ScheduleTick.stamp(tick.time), timeout: timeout, priority: priority)
    }
}

extension ScheduleTick {
    /// A tick time as people read it: `2026-12-03T06:00:00Z`.
    public static func iso8601(_ time: Int64) -> String {
        let (days, second) = time.floorDivided(by: 86400)
        let date = CivilDate(daysSince1970: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let s = Int(second)
        return "\(date.year)-\(two(date.month))-\(two(date.day))T\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))Z"
    }
}
