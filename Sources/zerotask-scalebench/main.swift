// Scale of a real broker process (issue 6, item 5): memory with 1,000,000 queued tasks, and
// whether queue operations stay flat as the queue grows.
//
//   swift build -c release --scratch-path .build-bench --product zerotask --product zerotask-scalebench
//   .build-bench/release/zerotask-scalebench [--zerotask PATH] [--levels 1000,100000,1000000]
//       [--chunk 1000] [--rounds 10] [--inflight 200] [--batch 100] [--port 47400]
//
// Phase "memory": a fresh `zerotask broker --store memory` (the real executable, default: the
// `zerotask` beside this one), no node; one client submits --levels' largest count of math.add
// tasks (params [i, i+1]) with client_new_tasks in batches of --batch; the broker's VmRSS and
// VmHWM (/proc/PID/status) are read at start and at each level.
//
// Phase "rates": a fresh broker; a client and a node (node_connect, method math.add, no worker
// limit) on DEALER sockets. At each level L the queue is filled to L, then --rounds times:
//   claim c   node_task_pull max=1, --inflight requests in flight (L -> L-c)
//   submit c  client_new_task, --inflight in flight (L-c -> L)
//   claim c   node_task_pull max=--batch (L -> L-c)
//   submit c  client_new_tasks of --batch tasks (L-c -> L)
// with c = min(--chunk, L/2), so the queue stays between L-c and L. Rates are tasks per second
// over all rounds. Then the stale-head case: 20 times, cancel the oldest queued task
// (client_cancel_task) and time one node_task_pull max=1 alone (it must skip the cancelled
// task's heap entry), next to 20 pulls without a cancel before them.
//
// The broker is started with --node-timeout 3600 so the node, idle while the queue fills, keeps
// its claims; it is stopped with SIGTERM (SIGKILL after 5 s) by PID, also on failure.
@preconcurrency import Glibc
import Foundation
import ZeroMQ
import ZeroTaskProtocol


nonisolated(unsafe) var brokerPID: pid_t = 0

func stopBroker() {
    guard brokerPID > 0 else { return }
    let pid = brokerPID
    brokerPID = 0
    kill(pid, SIGTERM)
    var status: Int32 = 0
    for _ in 0..<50 {
        if waitpid(pid, &status, WNOHANG) == pid { return }
        usleep(100_000)
    }
    kill(pid, SIGKILL)
    waitpid(pid, &status, 0)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("scalebench: \(message)\n".utf8))
    stopBroker()
    exit(1)
}

// MARK: - the broker process

struct Memory {
    var rss: Int  // KiB
    var hwm: Int  // KiB
}

func memory(of pid: pid_t) -> Memory {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { fail("cannot read /proc/\(pid)/status") }
    func field(_ name: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }
    return Memory(rss: field("VmRSS"), hwm: field("VmHWM"))
}

func startBroker(zerotask: String, port: Int) -> String {
    let request = "tcp://127.0.0.1:\(port)", publish = "tcp://127.0.0.1:\(port + 1)"
    let args = [zerotask, "broker", "--store", "memory", "--request", request, "--publish", publish, "--node-timeout", "3600"]
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, zerotask, &actions, nil, &argv, environ)
    posix_spawn_file_actions_destroy(&actions)
    for a in argv { free(a) }
    guard rc == 0 else { fail("cannot start \(zerotask): \(String(cString: strerror(rc)))") }
    brokerPID = pid
    return request
}

// MARK: - a DEALER peer

final class Peer {
    let socket: ZMQSocket
    var poller = ZMQPoller()
    var nextID: Int64 = 1

    init(_ context: ZMQContext, endpoint: String) throws {
        socket = try ZMQSocket(context, .dealer)
        try socket.setLinger(milliseconds: 1000)
        try socket.connect(endpoint)
        poller.add(socket)
    }

    func send(_ method: String, _ params: JSONValue) throws {
        let r = Request(method: BrokerMethod.namespace + method, params: Params(json: params)!, id: .int(nextID))
        nextID += 1
        _ = try socket.send(r.json.jsonBytes)
    }

    /// The next reply; fails after 60 s without one.
    func receive() throws -> JSONValue {
        let deadline = MonotonicInstant.now() + 60
        while true {
            if let frames = try socket.receiveFrames(dontWait: true), let body = frames.last {
                guard let r = Response(json: try JSONValue.parse(body)) else { fail("unreadable reply") }
                switch r.outcome {
                case .success(let v): return v
                case .failure(let e): fail("broker error \(e.code): \(e.message)")
                }
            }
            guard MonotonicInstant.now() < deadline else { fail("no reply within 60 s") }
            _ = try poller.poll(timeoutMilliseconds: 1000)
        }
    }

    func call(_ method: String, _ params: JSONValue) throws -> JSONValue {
        try send(method, params)
        return try receive()
    }

    /// Sends `count` requests with `inflight` in flight; hands each reply to `onReply`. Seconds.
    func pipeline(_ count: Int, inflight: Int, request: (Int) -> (String, JSONValue), onReply: (JSONValue) -> Void) throws -> Double {
        let t0 = MonotonicInstant.now()
        var sent = 0, answered = 0
        while answered < count {
            while sent - answered < inflight && sent < count {
                let (m, p) = request(sent)
                try send(m, p)
                sent += 1
            }
            onReply(try receive())
            answered += 1
        }
        return MonotonicInstant.now() - t0
    }
}

// MARK: - options

nonisolated(unsafe) var zerotask = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("zerotask").path
nonisolated(unsafe) var levels = [1000, 100_000, 1_000_000]
nonisolated(unsafe) var chunk = 1000, rounds = 10, inflight = 200, batch = 100, port = 47400
nonisolated(unsafe) var phases: Set<String> = ["memory", "rates"]
do {
    let a = Array(CommandLine.arguments.dropFirst())
    var i = 0
    while i < a.count {
        let v = i + 1 < a.count ? a[i + 1] : ""
        switch a[i] {
        case "--zerotask": zerotask = v
        case "--levels": levels = v.split(separator: ",").compactMap { Int($0) }.sorted()
        case "--chunk": chunk = Int(v) ?? chunk
        case "--rounds": rounds = Int(v) ?? rounds
        case "--inflight": inflight = Int(v) ?? inflight
        case "--batch": batch = Int(v) ?? batch
        case "--port": port = Int(v) ?? port
        case "--only": phases = [v]
        default: fail("unknown argument \(a[i]); see the comment at the top of main.swift")
        }
        i += 2
    }
}
guard access(zerotask, X_OK) == 0 else { fail("no executable \(zerotask) (--zerotask PATH)") }
signal(SIGINT) { _ in stopBroker(); exit(130) }
signal(SIGTERM) { _ in stopBroker(); exit(143) }

let context = ZMQContext()

func connect(_ endpoint: String) throws -> (Peer, String) {
    let client = try Peer(context, endpoint: endpoint)
    // The broker needs a moment to bind: retry client_connect for up to 10 s.
    let deadline = MonotonicInstant.now() + 10
    try client.send("client_connect", [])
    while true {
        if try client.poller.poll(timeoutMilliseconds: 200)[0].contains(.readable) { break }
        guard MonotonicInstant.now() < deadline else { fail("no broker at \(endpoint)") }
    }
    guard case .string(let id) = try client.receive() else { fail("client_connect: not a string") }
    return (client, id)
}

nonisolated(unsafe) var taskCounter = 0
func newTask() -> JSONValue {
    defer { taskCounter += 1 }
    return ["method": "math.add", "params": [.int(Int64(taskCounter)), .int(Int64(taskCounter + 1))]]
}

/// Submits `count` tasks with client_new_tasks in batches, a few batches in flight. Seconds.
func fill(_ client: Peer, _ clientID: String, _ count: Int, ids: inout [String]) throws -> Double {
    let requests = (count + batch - 1) / batch
    return try client.pipeline(requests, inflight: 4, request: { r in
        let n = min(batch, count - r * batch)
        return ("client_new_tasks", ["client_id": .string(clientID), "tasks": .array((0..<n).map { _ in newTask() })])
    }, onReply: { v in
        for x in v.arrayValue ?? [] {
            guard case .string(let id) = x else { fail("client_new_tasks: \(x.jsonString)") }
            ids.append(id)
        }
    })
}

func mib(_ kib: Int) -> String { String(format: "%.1f MiB", Double(kib) / 1024) }
func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }

// MARK: - phase memory

do {
if phases.contains("memory") {
    let endpoint = startBroker(zerotask: zerotask, port: port)
    let (client, clientID) = try connect(endpoint)
    let base = memory(of: brokerPID)
    print("memory: a fresh `zerotask broker --store memory`, no node; client \(clientID); tasks of math.add [i, i+1]")
    print("  queued        VmRSS      VmHWM   bytes/task over start   fill rate (client_new_tasks ×\(batch))")
    print(String(format: "  %9d  ", 0) + pad(mib(base.rss), 10) + " " + pad(mib(base.hwm), 10))
    var ids: [String] = []
    ids.reserveCapacity(levels.last!)
    var queued = 0
    for level in levels {
        let seconds = try fill(client, clientID, level - queued, ids: &ids)
        let rate = Double(level - queued) / seconds
        queued = level
        usleep(200_000)
        let m = memory(of: brokerPID)
        let perTask = Double((m.rss - base.rss) * 1024) / Double(level)
        print(String(format: "  %9d  ", level) + pad(mib(m.rss), 10) + " " + pad(mib(m.hwm), 10)
            + String(format: "   %10.0f                %9.0f tasks/s", perTask, rate))
    }
    guard case .object(let stats) = try client.call("stats", []) else { fail("stats") }
    print("  broker stats: \(JSONValue.object(stats).jsonString)")
    print("  a task id looks like \(ids.last ?? "?") (\(ids.last?.utf8.count ?? 0) bytes)")
    stopBroker()
    print("")
}

// MARK: - phase rates

if phases.contains("rates") {
    let endpoint = startBroker(zerotask: zerotask, port: port)
    let (client, clientID) = try connect(endpoint)
    let node = try Peer(context, endpoint: endpoint)
    let nodeID = "scalebench-node"
    _ = try node.call("node_connect", ["node_id": .string(nodeID), "methods": ["math.add"], "workers": 0])
    var ids: [String] = []   // every task id, in submission order
    var head = 0             // ids before this were claimed or cancelled (FIFO: one priority)
    var queued = 0
    print("rates: a fresh `zerotask broker --store memory`; one client and one node (DEALER); \(rounds) rounds per level,")
    print("  \(inflight) requests in flight for single operations; tasks/s over all rounds")
    print("  queued     claim ×1     submit ×1   claim ×\(batch)/pull  submit ×\(batch)/batch   pull after a cancel  pull alone   VmRSS")
    for level in levels {
        _ = try fill(client, clientID, level - queued, ids: &ids)
        queued = level
        let c = min(chunk, level / 2)
        var t = [0.0, 0.0, 0.0, 0.0]
        func claimed(_ v: JSONValue) {
            let got = v.arrayValue?.count ?? 0
            head += got
            queued -= got
        }
        for _ in 0..<rounds {
            var n = 0
            t[0] += try node.pipeline(c, inflight: inflight, request: { _ in ("node_task_pull", ["node_id": .string(nodeID), "max": 1]) },
                onReply: { v in n += v.arrayValue?.count ?? 0; claimed(v) })
            guard n == c else { fail("claimed \(n) of \(c)") }
            let before = ids.count
            t[1] += try client.pipeline(c, inflight: inflight, request: { _ in
                var o = newTask().objectValue!
                o["client_id"] = .string(clientID)
                return ("client_new_task", .object(o))
            }, onReply: { v in ids.append(v.stringValue ?? "?") })
            queued += ids.count - before
            n = 0
            let pulls = (c + batch - 1) / batch
            t[2] += try node.pipeline(pulls, inflight: 4, request: { r in
                ("node_task_pull", ["node_id": .string(nodeID), "max": .int(Int64(min(batch, c - r * batch)))])
            }, onReply: { v in n += v.arrayValue?.count ?? 0; claimed(v) })
            guard n == c else { fail("claimed \(n) of \(c) in batches") }
            let before2 = ids.count
            t[3] += try fill(client, clientID, c, ids: &ids)
            queued += ids.count - before2
        }
        // A cancelled task at the head of the queue: the next pull skips its heap entry.
        var afterCancel: [Double] = [], alone: [Double] = []
        for _ in 0..<20 {
            _ = try client.call("client_cancel_task", ["client_id": .string(clientID), "task_id": .string(ids[head])])
            head += 1
            queued -= 1
            var t0 = MonotonicInstant.now()
            claimed(try node.call("node_task_pull", ["node_id": .string(nodeID), "max": 1]))
            afterCancel.append(MonotonicInstant.now() - t0)
            t0 = MonotonicInstant.now()
            claimed(try node.call("node_task_pull", ["node_id": .string(nodeID), "max": 1]))
            alone.append(MonotonicInstant.now() - t0)
        }
        // Back to the level for the next one.
        _ = try fill(client, clientID, level - queued, ids: &ids)
        queued = level
        let total = Double(c * rounds)
        print(String(format: "  %9d %9.0f/s %11.0f/s %12.0f/s %15.0f/s %13.3f ms %11.3f ms   ", level,
            total / t[0], total / t[1], total / t[2], total / t[3], Percentile.median(afterCancel) * 1000, Percentile.median(alone) * 1000)
            + mib(memory(of: brokerPID).rss))
    }
    stopBroker()
}
} catch {
    fail("\(error)")
}
