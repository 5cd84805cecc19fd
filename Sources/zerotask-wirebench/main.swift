// Raw request rates on the wire, side by side: a bare libzmq echo against the broker.
//
//   swift run -c release --scratch-path .build-wire zerotask-wirebench [--rounds 5] [--scale 1.0]
//   zerotask-wirebench --only broker-dealer --count 20000 --rounds 1
//   zerotask-wirebench serve broker|echo     (prints the endpoint, serves until stdin closes;
//   zerotask-wirebench peer KIND ENDPOINT COUNT INFLIGHT     for profiling one side alone)
//
// The server side (an echo ROUTER thread, or an in-process BrokerService) lives in this
// process; every measurement's peer is a second process (this executable re-run as
// `peer KIND ENDPOINT COUNT INFLIGHT`) so that the two sides share no allocator, no libzmq
// context and no cache lines, as a real client and broker would not. The peer connects, warms
// up, then times its own loop and prints `RESULT count seconds`. Rounds are interleaved (every
// kind once per round) so that drift on a shared machine hits every kind alike.
@preconcurrency import Glibc
import Foundation
import Synchronization
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol

// MARK: - Measurements

enum Kind: String, CaseIterable {
    case echoREQ = "echo-req"
    case echoDEALER = "echo-dealer"
    case brokerREQ = "broker-req"
    case brokerDEALER = "broker-dealer"

    var title: String {
        switch self {
        case .echoREQ: "libzmq echo, REQ (1 in flight)"
        case .echoDEALER: "libzmq echo, DEALER (\(inflight) in flight)"
        case .brokerREQ: "broker client_task_status, REQ (1 in flight)"
        case .brokerDEALER: "broker client_task_status, DEALER (\(inflight) in flight)"
        }
    }

    var inflight: Int { self == .echoREQ || self == .brokerREQ ? 1 : 200 }

    /// Messages per measurement at scale 1: about a second each on a 2-vCPU VM.
    var baseCount: Int {
        switch self {
        case .echoREQ: 10_000
        case .echoDEALER: 500_000
        case .brokerREQ: 10_000
        case .brokerDEALER: 300_000
        }
    }
}


func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("wirebench: \(message)\n".utf8))
    exit(1)
}

// MARK: - Peer (the child process)

/// A client of the broker: connects, submits one task, and returns the request body prefix
/// for `client_task_status` on it (the id and closing brace are appended per request).
func brokerSetUp(_ context: ZMQContext, _ endpoint: String) throws -> [UInt8] {
    let req = try ZMQSocket(context, .req)
    try req.connect(endpoint)
    func call(_ method: String, _ params: JSONValue) throws -> JSONValue {
        try req.send(Request(method: BrokerMethod.namespace + method, params: Params(json: params)!, id: 1).json.jsonBytes)
        guard let frames = try req.receiveFrames(), let body = frames.last,
            let response = Response(json: try JSONValue.parse(body)), case .success(let r) = response.outcome
        else { fail("\(method) failed") }
        return r
    }
    let client = "bench-\(getpid())"
    _ = try call("client_connect", [.string(client)])
    let task = try call("client_new_task", [.string(client), "noop", []])
    req.close()
    let prefix = #"{"jsonrpc":"2.0","method":"zerotask.broker.client_task_status","params":["#
        + JSONValue.string(client).jsonString + "," + task.jsonString + #"],"id":"#
    return Array(prefix.utf8)
}

/// A request body: the prefix, then the id.
@inline(__always) func body(_ prefix: [UInt8], id: Int) -> [UInt8] {
    var b = prefix
    var w = JSONWriter(capacity: 24)
    w.writeInt(Int64(id))
    b.append(contentsOf: w.bytes)
    b.append(UInt8(ascii: "}"))
    return b
}

/// Checks one broker reply fully: a response to `id` whose result is QUEUED.
func checkReply(_ bytes: [UInt8], id: Int) {
    guard let v = try? JSONValue.parse(bytes), let r = Response(json: v), r.id == .int(Int64(id)),
        case .success(.int(1000)) = r.outcome
    else { fail("unexpected reply \(String(decoding: bytes, as: UTF8.self))") }
}

func runPeer(kind: Kind, endpoint: String, count: Int, inflight: Int) throws {
    let context = ZMQContext()
    let isBroker = kind == .brokerREQ || kind == .brokerDEALER
    let prefix = isBroker ? try brokerSetUp(context, endpoint) : Array("x".utf8)
    let socket = try ZMQSocket(context, inflight == 1 ? .req : .dealer)
    try socket.setHighWaterMarks(send: 100_000, receive: 100_000)
    try socket.connect(endpoint)
    let warmUp = min(2000, count / 5)

    // Each request carries its sequence number; every reply is counted, the first and last parsed.
    func loop(_ n: Int, firstID: Int) throws {
        if inflight == 1 {
            for i in 0..<n {
                let id = firstID + i
                try socket.send(isBroker ? body(prefix, id: id) : prefix)
                guard let reply = try socket.receiveFrames()?.last else { fail("no reply") }
                if isBroker && (i == 0 || i == n - 1) { checkReply(reply, id: id) }
            }
            return
        }
        var sent = 0
        var received = 0
        while sent < min(inflight, n) {
            try socket.send(isBroker ? body(prefix, id: firstID + sent) : prefix)
            sent += 1
        }
        while received < n {
            guard let reply = try socket.receiveFrames()?.last else { fail("no reply") }
            if isBroker && (received == 0 || received == n - 1) {
                // Replies from one broker thread come back in request order.
                checkReply(reply, id: firstID + received)
            }
            received += 1
            if sent < n {
                try socket.send(isBroker ? body(prefix, id: firstID + sent) : prefix)
                sent += 1
            }
        }
    }

    try loop(warmUp, firstID: 1_000_000)
    let start = MonotonicInstant.now()
    try loop(count, firstID: 0)
    let seconds = MonotonicInstant.now() - start
    print("RESULT \(count) \(seconds)")
    socket.close()
}

// MARK: - Servers (this process)

/// A ROUTER that sends every message straight back, on a thread of its own.
final class EchoServer: @unchecked Sendable {
    let context = ZMQContext()
    let router: ZMQSocket
    let endpoint: String
    private let stopping = StopFlag()
    private let finished = DispatchSemaphore(value: 0)

    init() throws {
        router = try ZMQSocket(context, .router)
        try router.setHighWaterMarks(send: 100_000, receive: 100_000)
        try router.bind("tcp://127.0.0.1:*")
        endpoint = router.lastEndpoint!
        let thread = Thread { [router, stopping, finished] in
            var poller = ZMQPoller()
            poller.add(router)
            while !stopping.isSet {
                do {
                    _ = try poller.poll(timeoutMilliseconds: 100)
                    while let frames = try router.receiveFrames(dontWait: true) {
                        try router.send(frames: frames)
                    }
                } catch {
                    fail("echo: \(error)")
                }
            }
            router.close(lingerMilliseconds: 0)
            finished.signal()
        }
        thread.name = "wirebench-echo"
        thread.start()
    }

    func stop() {
        stopping.set()
        finished.wait()
    }
}

/// Runs one measurement's peer as a child process and returns messages per second.
func measure(_ kind: Kind, endpoint: String, count: Int) throws -> Double {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    process.arguments = ["peer", kind.rawValue, endpoint, String(count), String(kind.inflight)]
    let out = Pipe()
    process.standardOutput = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") })
    else { fail("peer \(kind.rawValue) failed (status \(process.terminationStatus)): \(text)") }
    let parts = line.split(separator: " ")
    guard parts.count == 3, let n = Double(parts[1]), let s = Double(parts[2]), s > 0 else { fail("bad peer output \(line)") }
    return n / s
}

func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
    let p = String(repeating: " ", count: max(0, n - s.count))
    return right ? p + s : s + p
}

func cpuModel() -> String {
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
    return line.map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

func runBench(arguments: [String]) throws {
    var rounds = 5
    var scale = 1.0
    var only: [Kind] = Kind.allCases
    var fixedCount: Int?
    var i = 0
    while i < arguments.count {
        let a = arguments[i]
        let next = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch a {
        case "--rounds": rounds = Int(next) ?? rounds; i += 1
        case "--scale": scale = Double(next) ?? scale; i += 1
        case "--count": fixedCount = Int(next); i += 1
        case "--only":
            only = next.split(separator: ",").compactMap { Kind(rawValue: String($0)) }
            i += 1
        default: fail("unknown argument \(a); see the comment at the top of main.swift")
        }
        i += 1
    }

    let echo = try EchoServer()
    let broker = BrokerService(request: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*")
    try broker.start()
    print("zerotask-wirebench: \(rounds) interleaved rounds; peer in a second process; tcp loopback")
    print("nproc \(ProcessInfo.processInfo.activeProcessorCount), \(cpuModel()), libzmq \(ZMQContext.version)")

    var rates: [Kind: [Double]] = [:]
    for round in 1...rounds {
        var line = "round \(round):"
        for kind in only {
            let count = fixedCount ?? max(100, Int(Double(kind.baseCount) * scale))
            let endpoint = kind == .echoREQ || kind == .echoDEALER ? echo.endpoint : broker.boundRequestEndpoint
            let rate = try measure(kind, endpoint: endpoint, count: count)
            rates[kind, default: []].append(rate)
            line += " \(kind.rawValue) \(Int(rate))/s"
        }
        print(line)
    }
    broker.stop()
    echo.stop()

    print("")
    print(pad("measurement", 48) + pad("median msg/s", 14, right: true) + pad("µs/msg", 9, right: true)
        + pad("min", 10, right: true) + pad("max", 10, right: true))
    for kind in only {
        let r = rates[kind] ?? []
        guard !r.isEmpty else { continue }
        let m = Percentile.median(r)
        print(pad(kind.title, 48) + pad(String(Int(m)), 14, right: true)
            + pad(String(format: "%.1f", 1e6 / m), 9, right: true)
            + pad(String(Int(r.min()!)), 10, right: true) + pad(String(Int(r.max()!)), 10, right: true))
    }
}

// MARK: - Entry

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    if arguments.first == "serve" {
        // One server alone, e.g. under valgrind (which cannot follow Foundation's process spawn).
        let echo = arguments.count > 1 && arguments[1] == "echo"
        let server = echo ? try EchoServer() : nil
        let broker = echo ? nil : BrokerService(request: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*")
        try broker?.start()
        print("ENDPOINT \(server?.endpoint ?? broker!.boundRequestEndpoint)")
        fflush(stdout)
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {}
        broker?.stop()
        server?.stop()
    } else if arguments.first == "peer" {
        guard arguments.count == 5, let kind = Kind(rawValue: arguments[1]), let count = Int(arguments[3]),
            let inflight = Int(arguments[4])
        else { fail("usage: peer KIND ENDPOINT COUNT INFLIGHT") }
        try runPeer(kind: kind, endpoint: arguments[2], count: count, inflight: inflight)
    } else {
        try runBench(arguments: arguments)
    }
} catch {
    fail("\(error)")
}

/// A flag the main thread raises and the echo thread checks between polls (a benchmark's
/// stop: checked every 100 ms at most, which costs nothing measured).
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    var isSet: Bool { raised.load(ordering: .acquiring) }
    func set() { raised.store(true, ordering: .releasing) }
}
