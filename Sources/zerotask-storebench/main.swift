// Submit throughput of the broker's stores, side by side: memory, SQLite synchronous=NORMAL,
// SQLite synchronous=FULL (the default), and PostgreSQL when given a server.
//
//   swift build -c release --scratch-path .build-store --product zerotask-storebench
//   .build-store/release/zerotask-storebench [--rounds 3] [--tasks 20000] [--inflight 200] [--dir /tmp]
//       [--postgres postgres://USER:PASSWORD@HOST:PORT]   (a fresh database per measurement, made with psql)
//
// Each measurement starts a fresh in-process BrokerService (a fresh SQLite file in --dir) and a
// peer in a second process (this executable re-run as `peer ENDPOINT TASKS INFLIGHT`) that
// connects a client and keeps INFLIGHT `client_new_task` requests in flight on a DEALER until
// TASKS are answered, then prints `RESULT tasks seconds`. Nothing runs the tasks: this measures
// what a submission costs, which is where the store's group commit sits. Rounds are
// interleaved (every store once per round) so that drift on a shared machine hits all alike.
@preconcurrency import Glibc
import Foundation
import Logging
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol


func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("storebench: \(message)\n".utf8))
    exit(1)
}

/// A store that counts what the broker asks of the one it wraps.
final class CountingStore: TaskStore {
    let inner: TaskStore
    var writes = 0, changes = 0
    var seconds = 0.0
    init(_ inner: TaskStore) { self.inner = inner }
    var description: String { inner.description }
    var isDurable: Bool { inner.isDurable }
    func load() throws(StoreError) -> StoreContents { try inner.load() }
    func write(_ c: StoreChanges) throws(StoreError) {
        let t0 = MonotonicInstant.now()
        try inner.write(c)
        seconds += MonotonicInstant.now() - t0
        writes += 1
        changes += c.count
    }
    func close() { inner.close() }
}

enum Kind: String, CaseIterable {
    case memory, sqliteNormal = "sqlite-normal", sqliteFull = "sqlite-full", postgres

    var title: String {
        switch self {
        case .memory: "memory"
        case .sqliteNormal: "SQLite, WAL, synchronous=NORMAL"
        case .sqliteFull: "SQLite, WAL, synchronous=FULL (default)"
        case .postgres: "PostgreSQL (libpq pipeline, one JSON row set)"
        }
    }
}

/// The server `--postgres` names (`postgres://USER:PASSWORD@HOST:PORT`), if any.
nonisolated(unsafe) var postgresServer: String?

/// A fresh database on that server (psql must be on PATH), as a store URL.
func freshDatabase(_ server: String) -> String {
    let name = "storebench_\(getpid())_\(UInt32.random(in: 0..<UInt32.max))"
    let psql = Process()
    psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    psql.arguments = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", server + "/postgres", "-c", "CREATE DATABASE \(name)"]
    do { try psql.run() } catch { fail("cannot run psql: \(error)") }
    psql.waitUntilExit()
    guard psql.terminationStatus == 0 else { fail("psql could not create database \(name) on \(server)") }
    return server + "/" + name
}

struct Measurement {
    var rate: Double
    var commits: Int
    var perCommit: Double
    var commitMicros: Double
}

func measure(_ kind: Kind, tasks: Int, inflight: Int, dir: String) throws -> Measurement {
    let path = "\(dir)/storebench-\(getpid())-\(kind.rawValue).sqlite"
    for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
    let inner: TaskStore
    switch kind {
    case .memory: inner = MemoryTaskStore()
    case .sqliteNormal: inner = try SQLiteTaskStore(path: path, synchronous: .normal)
    case .sqliteFull: inner = try SQLiteTaskStore(path: path, synchronous: .full)
    case .postgres: inner = try PostgresTaskStore(url: freshDatabase(postgresServer!))
    }
    let store = CountingStore(inner)
    var logger = Logger(label: "zerotask.broker")
    logger.logLevel = .warning
    let broker = BrokerService(request: "tcp://127.0.0.1:*", publish: "tcp://127.0.0.1:*", store: store, logger: logger)
    try broker.start()
    defer { broker.stop() }

    let peer = Process()
    peer.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    peer.arguments = ["peer", broker.boundRequestEndpoint, String(tasks), String(inflight)]
    let out = Pipe()
    peer.standardOutput = out
    try peer.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    peer.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard peer.terminationStatus == 0, let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) else {
        fail("peer failed (\(peer.terminationStatus)): \(text)")
    }
    let parts = line.split(separator: " ")
    let rate = Double(parts[1])! / Double(parts[2])!
    // The broker thread owns the store until stop; the counts are read after the peer ended and
    // the broker has nothing left to write.
    broker.stop()
    return Measurement(
        rate: rate, commits: store.writes, perCommit: store.writes > 0 ? Double(store.changes) / Double(store.writes) : 0,
        commitMicros: store.writes > 0 ? store.seconds / Double(store.writes) * 1e6 : 0)
}

/// The peer: connect a client, submit `tasks` with `inflight` in flight, time it.
func runPeer(endpoint: String, tasks: Int, inflight: Int) throws {
    let context = ZMQContext()
    let socket = try ZMQSocket(context, .dealer)
    try socket.setLinger(milliseconds: 1000)
    try socket.connect(endpoint)
    var poller = ZMQPoller()
    poller.add(socket)
    func request(_ method: String, _ params: JSONValue, id: Int64) -> [UInt8] {
        Request(method: BrokerMethod.namespace + method, params: Params(json: params)!, id: .int(id)).json.jsonBytes
    }
    func receiveOne() throws -> Response {
        while true {
            _ = try poller.poll(timeoutMilliseconds: 10_000)
            if let frames = try socket.receiveFrames(dontWait: true), let body = frames.last {
                guard let r = Response(json: try JSONValue.parse(body)) else { fail("unreadable reply") }
                return r
            }
        }
    }
    try socket.send(request("client_connect", ["bench"], id: 0))
    guard case .success = try receiveOne().outcome else { fail("client_connect failed") }
    let submit = { (i: Int) in
        request("client_new_task", ["client_id": "bench", "method": "bench.noop", "params": [.int(Int64(i)), "payload"]], id: Int64(i + 1))
    }
    var sent = 0, answered = 0
    let t0 = MonotonicInstant.now()
    while answered < tasks {
        while sent - answered < inflight && sent < tasks {
            try socket.send(submit(sent))
            sent += 1
        }
        let r = try receiveOne()
        if case .failure(let e) = r.outcome { fail("client_new_task: \(e)") }
        answered += 1
        while answered < tasks, let frames = try socket.receiveFrames(dontWait: true) {
            guard frames.last != nil else { continue }
            answered += 1
        }
    }
    let seconds = MonotonicInstant.now() - t0
    print("RESULT \(tasks) \(seconds)")
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    if arguments.first == "peer" {
        guard arguments.count == 4, let tasks = Int(arguments[2]), let inflight = Int(arguments[3]) else {
            fail("usage: peer ENDPOINT TASKS INFLIGHT")
        }
        try runPeer(endpoint: arguments[1], tasks: tasks, inflight: inflight)
        exit(0)
    }
    var rounds = 3, tasks = 20_000, inflight = 200
    var dir = FileManager.default.temporaryDirectory.path
    var i = 0
    while i < arguments.count {
        let value = i + 1 < arguments.count ? arguments[i + 1] : ""
        switch arguments[i] {
        case "--rounds": rounds = Int(value) ?? rounds
        case "--tasks": tasks = Int(value) ?? tasks
        case "--inflight": inflight = Int(value) ?? inflight
        case "--dir": dir = value
        case "--postgres": postgresServer = value
        default: fail("unknown argument \(arguments[i]); see the comment at the top of main.swift")
        }
        i += 2
    }
    print("zerotask-storebench: \(rounds) interleaved rounds of \(tasks) client_new_task, \(inflight) in flight; files in \(dir)")
    var results: [Kind: [Measurement]] = [:]
    let kinds = Kind.allCases.filter { $0 != .postgres || postgresServer != nil }
    for round in 1...rounds {
        var line = "round \(round):"
        for kind in kinds {
            let m = try measure(kind, tasks: tasks, inflight: inflight, dir: dir)
            results[kind, default: []].append(m)
            line += " \(kind.rawValue) \(Int(m.rate))/s"
        }
        print(line)
    }
    print("")
    print("store".padding(toLength: 42, withPad: " ", startingAt: 0) + "  median tasks/s     min     max  commits  changes/commit  µs/commit")
    for kind in kinds {
        let ms = results[kind]!
        let rates = ms.map(\.rate)
        let last = ms.last!
        print(kind.title.padding(toLength: 42, withPad: " ", startingAt: 0)
            + String(format: "  %14d %7d %7d %8d %15.1f %10.0f", Int(Percentile.median(rates)), Int(rates.min()!), Int(rates.max()!),
                last.commits, last.perCommit, last.commitMicros))
    }
} catch {
    fail("\(error)")
}
