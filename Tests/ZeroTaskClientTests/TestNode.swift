import Foundation
import Synchronization
import ZeroMQ
import ZeroTaskTestSupport
import ZeroTaskProtocol

/// A small node that speaks the protocol over a real DEALER socket on a thread of its own:
/// `node_connect` with method descriptions, then `node_task_pull` long polls that also carry
/// the results of the tasks it ran.
///
/// Methods: `math.add(a, b)` (wrong on purpose when `wrongAdd`), `echo(…)` (its params back),
/// `fail()` (code 42, message "boom", data {"why": "asked to"}), `sleep(s)` (result after s
/// seconds, without blocking the node) and `never()` (never answers).
final class TestNode: @unchecked Sendable {
    let nodeID: String
    private let broker: String
    private let wrongAdd: Bool
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let connected = DispatchSemaphore(value: 0)
    private let taskCount = Atomic<Int>(0)

    /// Tasks received so far.
    var tasksSeen: Int { taskCount.load(ordering: .relaxed) }

    static let descriptions: [JSONValue] = [
        ["name": "math.add", "abi": "c", "params": [["name": "a", "type": "int64"], ["name": "b", "type": "int64"]],
         "returns": "int64", "doc": "a + b"],
        ["name": "echo", "abi": "json", "params": [], "returns": "json"],
        ["name": "fail", "abi": "json", "params": [], "returns": "json"],
        ["name": "sleep", "abi": "c", "params": [["name": "seconds", "type": "double"]], "returns": "double"],
        ["name": "never", "abi": "json", "params": [], "returns": "json"],
    ]

    init(broker: String, nodeID: String = "test-node-\(UInt32.random(in: 0...UInt32.max))", wrongAdd: Bool = false) throws {
        self.broker = broker
        self.nodeID = nodeID
        self.wrongAdd = wrongAdd
        let t = Thread { [self] in
            run()
            finished.signal()
        }
        t.name = "test-node"
        t.start()
        guard connected.wait(timeout: .now() + 20) == .success else { throw NodeError("node \(nodeID) did not connect") }
    }

    struct NodeError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
    }

    deinit { stop() }

    private func run() {
        let context = ZMQContext()
        guard let socket = try? ZMQSocket(context, .dealer) else { return }
        try? socket.setLinger(milliseconds: 0)
        try? socket.connect(broker)
        var nextID: Int64 = 0
        /// One request, one reply (the node keeps a single request in flight).
        func call(_ method: String, _ params: JSONValue, seconds: Double) -> Response? {
            nextID += 1
            let body = Request(method: "zerotask.broker." + method, params: Params(json: params) ?? .none, id: .int(nextID)).json
            guard (try? socket.send(body.jsonBytes)) != nil else { return nil }
            var poller = ZMQPoller()
            poller.add(socket)
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && !stopping.load(ordering: .relaxed) {
                guard let ready = try? poller.poll(timeoutMilliseconds: 50), ready[0].contains(.readable),
                    let frames = try? socket.receiveFrames(dontWait: true), let last = frames.last,
                    let json = try? JSONValue.parse(last), let r = Response(json: json)
                else { continue }
                if r.id == .int(nextID) { return r }
            }
            return nil
        }
        var isConnected = false
        var done: [JSONValue] = []
        var sleeping: [(due: Date, entry: JSONValue)] = []
        while !stopping.load(ordering: .relaxed) {
            if !isConnected {
                let r = call("node_connect", ["node_id": .string(nodeID), "methods": .array(Self.descriptions)], seconds: 2)
                if case .success? = r?.outcome {
                    isConnected = true
                    connected.signal()
                }
                continue
            }
            let now = Date()
            done += sleeping.filter { $0.due <= now }.map(\.entry)
            sleeping.removeAll { $0.due <= now }
            let wait = sleeping.map { $0.due.timeIntervalSince(now) }.min().map { max(0.01, min(0.5, $0)) } ?? 0.5
            let r = call("node_task_pull", ["node_id": .string(nodeID), "max": 64, "wait": .double(wait), "done": .array(done)],
                seconds: wait + 5)
            guard let r else { continue }
            switch r.outcome {
            case .success(let tasks):
                done = []
                for task in tasks.arrayValue ?? [] {
                    taskCount.add(1, ordering: .relaxed)
                    guard let id = task["id"]?.stringValue, let method = task["method"]?.stringValue else { continue }
                    let params = task["params"] ?? []
                    switch run(method, params) {
                    case .now(let outcome): done.append(Self.entry(id, outcome))
                    case .later(let seconds, let outcome): sleeping.append((now.addingTimeInterval(seconds), Self.entry(id, outcome)))
                    case .never: break
                    }
                }
            case .failure(let e):
                // Forgotten by the broker (it restarted): connect again.
                if e.code == ErrorCode.invalidNodeID.rawValue { isConnected = false }
                done = []
            }
        }
        _ = call("node_disconnect", [.string(nodeID)], seconds: 1)
        socket.close(lingerMilliseconds: 0)
    }

    private enum Outcome {
        case now(Result<JSONValue, RPCError>)
        case later(Double, Result<JSONValue, RPCError>)
        case never
    }

    private func run(_ method: String, _ params: JSONValue) -> Outcome {
        let args = params.arrayValue ?? [params["a"] ?? .null, params["b"] ?? .null]
        switch method {
        case "math.add":
            guard args.count == 2, let a = args[0].int64Value, let b = args[1].int64Value else {
                return .now(.failure(RPCError(.invalidParams, "math.add: params must be two integers a, b")))
            }
            return .now(.success(.int(wrongAdd && a % 7 == 3 ? a + b + 1 : a + b)))
        case "echo":
            return .now(.success(params))
        case "fail":
            return .now(.failure(RPCError(code: 42, message: "boom", data: ["why": "asked to"])))
        case "sleep":
            let s = args.first?.doubleValue ?? params["seconds"]?.doubleValue ?? 0
            return .later(s, .success(.double(s)))
        case "never":
            return .never
        default:
            return .now(.failure(.methodNotFound(method)))
        }
    }

    private static func entry(_ id: String, _ outcome: Result<JSONValue, RPCError>) -> JSONValue {
        switch outcome {
        case .success(let v): ["id": .string(id), "result": v]
        case .failure(let e): ["id": .string(id), "error": e.json]
        }
    }
}
