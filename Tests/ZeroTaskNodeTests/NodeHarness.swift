#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A broker in this process, real `zerotask node` processes against it, and a client peer.
final class NodeHarness: @unchecked Sendable {
    let broker: TestBroker
    let client: TestPeer
    let plugins: String
    var nodes: [ChildProcess] = []
    /// Heartbeats well inside the broker's node timeout, as a deployment would configure them.
    let heartbeat: Double
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// With `keys`, the broker has CURVE on (its keys folder is theirs) and the client peer
    /// connects with the admin key `adminKey`.
    init(plugins names: [String] = ["nodetest"], nodeTimeout: Double = 10, keys: TestKeys? = nil, adminKey: String = "ops") throws {
        broker = try TestBroker(security: try keys?.security()) { $0.nodeTimeout = nodeTimeout }
        heartbeat = min(2, nodeTimeout / 5)
        client = try broker.peer(curve: try keys?.curve(adminKey))
        _ = try client.result("client_connect", ["tester"])
        plugins = FixturePlugins.temporaryDirectory()
        for n in names { try FixturePlugins.compile(n, from: Self.fixtures, into: plugins) }
    }

    /// Starts a node process and waits until the broker lists it as serving `method`.
    @discardableResult
    func startNode(id: String, workers: Int? = 1, extra: [String] = [], environment: [String: String] = [:],
        waitFor method: String = "nt.add") throws -> ChildProcess
    {
        let node = try ChildProcess(Binaries.zerotask, [
            "node", "--broker", broker.request, "--broker-publish", broker.publish, "--plugins", plugins,
            "--node-id", id, "--log-level", "debug", "--heartbeat-interval", "\(heartbeat)",
        ] + (workers.map { ["--workers", "\($0)"] } ?? []) + extra, environment: environment)
        nodes.append(node)
        let up = try eventually(30) { try serves(method, node: id) || !node.isRunning }
        guard up, node.isRunning else {
            throw TimedOut(what: "node \(id) to register; its output:\n\(node.output)")
        }
        return node
    }

    func serves(_ method: String, node: String) throws -> Bool {
        let methods = try client.result("methods").arrayValue ?? []
        return methods.contains { $0["name"] == .string(method) && ($0["nodes"]?.arrayValue ?? []).contains(.string(node)) }
    }

    func submit(_ method: String, _ params: JSONValue = [], timeout: Double? = nil) throws -> JSONValue {
        var p: JSONObject = ["client_id": "tester", "method": .string(method), "params": params]
        if let timeout { p["timeout"] = .double(timeout) }
        return try client.result("client_new_task", .object(p))
    }

    /// Waits for the task to complete and returns its outcome.
    func outcome(_ taskID: JSONValue, seconds: Double = 60) throws -> Result<JSONValue, RPCError> {
        let done = try eventually(seconds) {
            let s = try client.result("client_task_status", ["tester", taskID])
            return s == .int(TaskStatus.finished.rawValue) || s == .int(TaskStatus.failed.rawValue)
        }
        guard done else { throw TimedOut(what: "task \(taskID)") }
        return try client.call("client_task_result", ["tester", taskID]).outcome
    }

    func info(_ taskID: JSONValue) throws -> JSONValue { try client.result("client_task_info", ["tester", taskID]) }

    /// Starts watching how many tasks the broker assigns to `node` at once.
    func watchAssigned(to node: String) throws -> AssignedWatcher { try AssignedWatcher(broker, node: node) }

    /// How many requests of `method` the broker has received (its `stats`).
    func requestCount(_ method: String) throws -> Int64 {
        try client.result("stats")["requests_by_method"]?[method]?.int64Value ?? 0
    }

    deinit {
        for n in nodes { n.stop() }
        try? FileManager.default.removeItem(atPath: plugins)
    }
}

/// The most tasks the broker had assigned to one node at once, sampled every few milliseconds
/// from a thread and a connection of its own. More than the node's workers proves the node
/// prefetched tasks to queue behind a running one (a prefetch may last only until the node
/// hands it back, 100 ms later: too short for a test's own polling to be sure to see it).
final class AssignedWatcher: @unchecked Sendable {
    private let most = Mutex<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let stopped = DispatchSemaphore(value: 0)

    init(_ broker: TestBroker, node: String) throws {
        let socket = try ZMQSocket(broker.context, .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.connect(broker.request)
        let request = Request(method: "zerotask.broker.nodes", params: .none, id: 1).json.jsonBytes
        Thread { [self] in
            var poller = ZMQPoller()
            poller.add(socket)
            while !stopping.load(ordering: .acquiring) {
                guard (try? socket.send(request)) != nil,
                    (try? poller.poll(timeoutMilliseconds: 1000))?[0].contains(.readable) == true,
                    let frames = try? socket.receiveFrames(dontWait: true), let body = frames.last,
                    let nodes = try? JSONValue.parse(body)["result"]?.arrayValue
                else { continue }
                let n = nodes.first { $0["node_id"] == .string(node) }?["assigned"]?.int64Value ?? 0
                most.withLock { $0 = max($0, Int(n)) }
                Thread.sleep(forTimeInterval: 0.002)
            }
            socket.close(lingerMilliseconds: 0)
            stopped.signal()
        }.start()
    }

    /// The most seen so far.
    var mostAssigned: Int { most.withLock { $0 } }

    deinit {
        stopping.store(true, ordering: .releasing)
        stopped.wait()
    }
}

/// Whether a process is gone (or only a zombie waiting for a reaper).
func processIsGone(_ pid: Int32) -> Bool {
    if kill(pid, 0) != 0 && errno == ESRCH { return true }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return true }
    return stat[stat.index(close, offsetBy: 2)] == "Z"
}
