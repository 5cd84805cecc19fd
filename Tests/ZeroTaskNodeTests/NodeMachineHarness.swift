import Logging
import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

@testable import ZeroTaskNode

/// A `NodeStateMachine` with a clock the test moves, no sockets and no processes: the test plays
/// the broker and the workers, feeding events and reading the actions.
final class NodeMachineHarness {
    /// Monotonic seconds, as the test sets them.
    var now: MonotonicInstant = 1000
    let machine: NodeStateMachine

    init(workers: Int = 1, configure: (inout NodeConfig) -> Void = { _ in }) {
        var config = NodeConfig()
        config.workers = workers
        configure(&config)
        machine = NodeStateMachine(config: config, nodeID: "n1", processID: 1, brokerIsBuiltIn: false,
                                   logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func tick() -> [NodeAction] { machine.tick(now: now) }

    /// Moves the clock on and ticks.
    func advance(_ seconds: Double) -> [NodeAction] {
        now += seconds
        return tick()
    }

    func reply(_ sent: Sent, _ result: JSONValue) -> [NodeAction] {
        machine.brokerReplied(Response(id: .int(sent.id!), result: result), now: now)
    }

    func reply(_ sent: Sent, error: RPCError) -> [NodeAction] {
        machine.brokerReplied(Response(id: .int(sent.id!), error: error), now: now)
    }

    /// Plugin generation 1 becomes current (its methods declaring `limits`); every worker it asks
    /// for starts and says it serves `methods`. Returns the worker ids.
    @discardableResult
    func startWorkers(methods: [String] = ["nt.add", "nt.slow"], limits: [String: SandboxLimits] = [:]) -> [Int] {
        let spawned = spawns(machine.generationActivated(1, unavailable: [], limits: limits, now: now))
        for spec in spawned { ready(spec.id, methods: methods) }
        return spawned.map(\.id)
    }

    /// Worker `id` started and loaded its plugins.
    func ready(_ id: Int, methods: [String] = ["nt.add", "nt.slow"]) {
        _ = machine.workerSpawned(id, ok: true, now: now)
        _ = machine.workerSent(.ready(pid: 0, methods: methods.map { ["name": .string($0)] }, problems: []), worker: id, now: now)
    }

    /// Starts the workers, registers with the broker and returns the first pull.
    func register(methods: [String] = ["nt.add", "nt.slow"], limits: [String: SandboxLimits] = [:]) throws -> Sent {
        startWorkers(methods: methods, limits: limits)
        let connect = try #require(sends(tick(), .nodeConnect).first)
        return try #require(sends(reply(connect, true) + tick(), .nodeTaskPull).first)
    }

    /// The spec of worker `id` of generation 1 with the primary sandbox profile.
    func spec(_ id: Int) -> WorkerSpec { WorkerSpec(id: id, generation: 1, profile: machine.sandbox.primary) }

    /// Worker `id` finished `task` with `result`.
    func done(_ task: String, worker id: Int, result: JSONValue = 0) -> [NodeAction] {
        machine.workerSent(.done(id: task, outcome: .success(result), residentBytes: nil), worker: id, now: now)
    }
}

/// A task as a pull's answer assigns it.
func assignment(_ id: String, _ method: String = "nt.add", timeout: Double? = nil) -> JSONValue {
    var o: JSONObject = ["id": .string(id), "method": .string(method), "params": [1, 2]]
    if let timeout { o["timeout"] = .double(timeout) }
    return .object(o)
}

/// A request the machine sent the broker, typed, with its id (nil: a notification).
struct Sent {
    let request: NodeRequest
    let id: Int64?

    /// What `node_connect` or `node_advertise` said.
    var advertisement: NodeAdvertisement? {
        switch request {
        case .connect(let a), .advertise(let a): a
        default: nil
        }
    }

    /// How many tasks a `node_task_pull` asks for.
    var max: Int? { if case .pull(_, let max, _, _) = request { max } else { nil } }

    /// The outcomes a `node_task_pull` (`done`) or `node_tasks_done` carries.
    var results: [NodeRequest.Outcome] {
        switch request {
        case .pull(_, _, _, let done), .tasksDone(_, let done): done
        default: []
        }
    }

    /// The tasks a `node_task_release` hands back or a `node_check_tasks` lists.
    var taskIDs: [String] {
        switch request {
        case .release(_, let ids), .checkTasks(_, let ids, _): ids
        default: []
        }
    }
}

/// The requests to the broker for `method`.
func sends(_ actions: [NodeAction], _ method: BrokerMethod) -> [Sent] {
    actions.compactMap { if case .send(let r, let id) = $0, r.method == method { Sent(request: r, id: id) } else { nil } }
}

func spawns(_ actions: [NodeAction]) -> [WorkerSpec] {
    actions.compactMap { if case .spawn(let spec) = $0 { spec } else { nil } }
}

/// The task ids each `write` sends, by worker, one entry per write.
func taskWrites(_ actions: [NodeAction]) -> [(worker: Int, tasks: [String])] {
    actions.compactMap { action in
        guard case .write(let worker, let messages) = action else { return nil }
        let tasks = messages.compactMap { if case .task(let id, _, _) = $0 { id } else { nil } }
        return tasks.isEmpty ? nil : (worker, tasks)
    }
}

/// The workers told to exit.
func exits(_ actions: [NodeAction]) -> [Int] {
    actions.compactMap { if case .write(let worker, let messages) = $0, messages.contains(.exit) { worker } else { nil } }
}

func kills(_ actions: [NodeAction]) -> [Int] {
    actions.compactMap { if case .kill(let id) = $0 { id } else { nil } }
}

func cancels(_ actions: [NodeAction]) -> [String] {
    actions.compactMap { if case .cancel(_, let task) = $0 { task } else { nil } }
}

extension NodeRequest.Outcome {
    /// The task's result, nil for a failure.
    var result: JSONValue? { try? outcome.get() }

    /// The task's error, nil for a result.
    var error: RPCError? { if case .failure(let e) = outcome { e } else { nil } }
}
