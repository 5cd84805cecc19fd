import ZeroTaskProtocol

/// An `admin_schedule_*` request, decoded.
enum ScheduleCommand: Sendable, Equatable {
    /// Adds a schedule (its `last` is set when it is applied); `replace`: over one of that name.
    case add(Schedule, replace: Bool)
    case list
    case remove(name: String)
}

extension BrokerCommand {
    /// Reads the params of `admin_schedule_add`, `admin_schedule_list`, `admin_schedule_remove`.
    static func schedule(_ method: BrokerMethod, _ params: Params) throws(RPCError) -> BrokerCommand {
        let name = method.rawValue
        switch method {
        case .adminScheduleAdd:
            let p = try ParamBinder(params, method: name, names: Schedule.definitionFields + ["replace"], required: 2)
            return .schedule(.add(try Schedule(p, origin: .rpc, last: 0), replace: p.value("replace")?.boolValue == true))
        case .adminScheduleRemove:
            return .schedule(.remove(name: try ParamBinder(params, method: name, names: ["name"], required: 1).string("name")))
        default:
            _ = try ParamBinder(params, method: name, names: [], required: 0)
            return .schedule(.list)
        }
    }
}

/// Periodic schedules: each tick of a schedule submits one task, as the schedule's own client
/// (`schedule:NAME`), with the tick's deterministic id (`ScheduleTick.taskID`).
///
/// The book (`ScheduleBook`) says which ticks are due; the loop looks on its tick, at the time
/// `scheduleDeadline` says (folded into `nextDeadline`, so the poll wakes for it): one
/// comparison per loop turn, nothing per request. A tick whose task id exists already is not
/// submitted again, and each schedule's latest tick is stored in the same commit as the task it
/// submitted, so a tick runs once across restarts.
extension BrokerState {
    /// The schedules, by name.
    public var scheduleList: [Schedule] { schedules.schedules.values.sorted { $0.name < $1.name } }

    mutating func scheduleRule(_ command: ScheduleCommand, now: MonotonicInstant) throws -> JSONValue {
        let name = "admin_schedule_" + {
            switch command {
            case .add: "add"
            case .list: "list"
            case .remove: "remove"
            }
        }()
        switch command {
        case .list:
            return ["schedules": .array(scheduleList.map { scheduleEntry($0) })]
        case .add(var s, let replace):
            if let old = schedules.schedules[s.name] {
                guard old.origin == .rpc else {
                    throw BrokerError.invalidParams("\(name): schedule \"\(s.name)\" is defined in the broker's config file (broker.schedules); change it there")
                }
                guard replace else {
                    throw BrokerError.invalidParams("\(name): schedule \"\(s.name)\" exists (pass replace: true to replace it, or remove it first)")
                }
            }
            try s.submission(for: ScheduleTick(schedule: s.name, time: 0)).check(config, method: name)
            let old = schedules.schedules[s.name]
            // A replaced schedule carries on from its latest tick; a new one ticks from now on.
            s.last = old?.last ?? Int64(wallClock().seconds.rounded(.down))
            s.lastTaskID = old?.lastTaskID
            schedules.put(s)
            scheduleChanged(s.name)
            armScheduleWake(now: now)
            return scheduleEntry(schedules.schedules[s.name]!)
        case .remove(let given):
            guard let s = schedules.schedules[given] else {
                throw BrokerError.invalidParams("\(name): no schedule \"\(given)\" (zerotask schedule list shows them)")
            }
            guard s.origin == .rpc else {
                throw BrokerError.invalidParams("\(name): schedule \"\(given)\" is defined in the broker's config file (broker.schedules); remove it there")
            }
            schedules.remove(given)
            scheduleChanged(given)
            armScheduleWake(now: now)
            return scheduleEntry(s)
        }
    }

    /// A schedule as `admin_schedule_list` shows it: its definition, where it came from, its
    /// next tick, its latest tick and the task that tick submitted.
    func scheduleEntry(_ s: Schedule) -> JSONValue {
        var o = s.definition
        o.append("origin", .string(s.origin.rawValue))
        o.append("next_tick", schedules.nextTick(of: s.name).map { .string(ScheduleTick.iso8601($0)) } ?? .null)
        // `last` is the time it was added until its first tick falls.
        let ticked = s.trigger.previousTick(atOrBefore: s.last) == s.last
        o.append("last_tick", ticked ? .string(ScheduleTick.iso8601(s.last)) : .null)
        o.append("last_task_id", s.lastTaskID.map { .string($0) } ?? .null)
        if let e = s.lastError { o.append("last_error", .string(e)) }
        return .object(o)
    }

    /// Declares the config file's schedules (call after `restore`, at each start). One the store
    /// kept carries on from its latest tick, so the ticks missed while the broker was down follow
    /// its policy; a new one ticks from now on. Config schedules no longer in the file are
    /// dropped, and a config schedule takes the place of an RPC one of the same name.
    public mutating func declareSchedules(_ list: [Schedule], now: MonotonicInstant) {
        let wall = Int64(wallClock().seconds.rounded(.down))
        let names = Set(list.map(\.name))
        for s in schedules.schedules.values where s.origin == .config && !names.contains(s.name) {
            schedules.remove(s.name)
            scheduleChanged(s.name)
        }
        for var s in list {
            s.origin = .config
            let old = schedules.schedules[s.name]
            s.last = old?.last ?? wall
            s.lastTaskID = old?.lastTaskID
            schedules.put(s)
            scheduleChanged(s.name)
        }
        armScheduleWake(now: now)
    }

    /// Puts back the schedules a store kept (from `restore`).
    mutating func restoreSchedules(_ stored: [Schedule], now: MonotonicInstant) {
        for s in stored { schedules.put(s) }
        armScheduleWake(now: now)
    }

    /// Submits the ticks that are due (from `tick`): nothing to do but one comparison until
    /// `scheduleDeadline`.
    mutating func fireDueSchedules(now: MonotonicInstant) {
        guard let deadline = scheduleDeadline, now >= deadline else { return }
        let (ticks, moved) = schedules.dueChanges(now: Int64(wallClock().seconds.rounded(.down)))
        for name in moved { scheduleChanged(name) }
        for tick in ticks { submit(tick, now: now) }
        armScheduleWake(now: now)
    }

    /// Submits a tick's task unless a task of that id exists (the tick ran already: on this
    /// broker, before a restart, or on another broker sharing the store).
    private mutating func submit(_ tick: ScheduleTick, now: MonotonicInstant) {
        guard let s = schedules.schedules[tick.schedule] else { return }
        let id = tick.taskID
        defer { scheduleChanged(s.name) }
        if tasks[id] != nil {
            schedules.record(s.name, taskID: id, error: nil)
            return
        }
        do throws(BrokerError) {
            let got = try submit(s.submission(for: tick), clientID: ScheduleTick.clientID(schedule: s.name), now: now)
            schedules.record(s.name, taskID: got, error: nil)
        } catch {
            let why = error.rpcError.message
            schedules.record(s.name, taskID: nil, error: "tick \(ScheduleTick.iso8601(tick.time)) not submitted: \(why)")
            events.append(.scheduleTickFailed(schedule: s.name, taskID: id, reason: why))  // logged, rate-limited
        }
    }

    /// Sets `scheduleDeadline` (monotonic) from the book's next wall-clock tick.
    mutating func armScheduleWake(now: MonotonicInstant) {
        scheduleDeadline = schedules.nextWake().map { now + Swift.max(0, WallInstant(seconds: Double($0)) - wallClock()) }
    }

    /// The ids `schedule:…` belong to the broker's schedules: a peer connecting as one could
    /// submit a tick's id before the tick does (and so fence it off).
    static func refuseScheduleClient(_ id: String) throws(BrokerError) {
        if id.hasPrefix(ScheduleTick.clientID(schedule: "")) {
            throw .client(id: id, why: "reserved for the broker's schedules")
        }
    }

    @inline(__always) mutating func scheduleChanged(_ name: String) {
        if journaling { changedSchedules.insert(name) }
    }

    /// Moves the changed schedules into a commit's changes (from `takeChanges`).
    mutating func takeScheduleChanges(into c: inout StoreChanges) {
        guard !changedSchedules.isEmpty else { return }
        for name in changedSchedules {
            if let s = schedules.schedules[name] { c.schedules.append(s) } else { c.deletedSchedules.append(name) }
        }
        changedSchedules.removeAll(keepingCapacity: true)
    }
}
