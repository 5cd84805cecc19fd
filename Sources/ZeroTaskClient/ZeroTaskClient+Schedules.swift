import ZeroTaskProtocol

/// Periodic schedules (`admin_schedule_*`; an admin key when the broker has keys).
extension ZeroTaskClient {
    /// Adds a schedule (PROTOCOL.md, "Schedules"): `{name, method, params?, cron, time_zone?}`
    /// or `{name, method, params?, every}`, with `missed`, `priority`, `timeout`, `replace`.
    /// - Returns: the schedule as `schedules()` lists it, with its next tick.
    public func scheduleAdd(_ definition: JSONObject) async throws -> JSONObject {
        try await scheduleObject(.adminScheduleAdd, .named(definition))
    }

    /// Every schedule, by name: its definition, `origin` (`config` or `rpc`), `next_tick`,
    /// `last_tick`, `last_task_id`.
    public func schedules() async throws -> [JSONObject] {
        let answer = try await scheduleObject(.adminScheduleList, .named([:]))
        return (answer["schedules"]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    /// Removes a schedule added by RPC; its ticks stop. Returns the schedule as it was.
    public func scheduleRemove(_ name: String) async throws -> JSONObject {
        try await scheduleObject(.adminScheduleRemove, .named(["name": .string(name)]))
    }

    private func scheduleObject(_ method: BrokerMethod, _ params: Params) async throws -> JSONObject {
        let answer = try await rpc(method, params)
        guard let o = answer.objectValue else { throw ZeroTaskClientError.invalidResponse("\(method.rawValue) answered \(answer)") }
        return o
    }
}
