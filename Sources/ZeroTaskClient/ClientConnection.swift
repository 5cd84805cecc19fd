#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import ZeroMQ
import ZeroTaskProtocol

/// One DEALER connection to a broker, owned by a thread of its own.
///
/// Callers on any thread (or Swift task) hand requests over through a lock-protected command
/// list and wake the I/O thread through a pipe; the I/O thread sends them,
/// matches replies to requests by JSON-RPC id, and fails every request whose deadline passes.
/// The blocking `zmq_poll` thus never runs on Swift's cooperative pool, and many requests
/// share one socket.
///
/// The I/O thread is also a `TaskExecutor`: code that prefers it runs between polls, so its
/// requests leave and its replies resume it with no thread switch and no wake-up at all.
final class ClientConnection: Sendable {
    /// The broker's request endpoint.
    let endpoint: String
    private let commands: CommandQueue
    /// Runs Swift jobs on the I/O thread.
    let executor: ClientIOLoop

    /// Creates the sockets and starts the I/O thread. Nothing is sent yet: libzmq connects in
    /// the background and requests wait (until their deadline) for the connection to complete.
    /// - Parameters:
    ///   - curve: CURVE keys for the connection; nil: plain.
    ///   - watchDisconnects: when the connection to the broker drops (its process ended), fail
    ///     the requests sent on it at once (`.noAnswer`) rather than at their deadlines: a
    ///     client with brokers to fail over to moves on without waiting.
    init(endpoint: String, context: ZMQContext, curve: CurveClientKeys? = nil, watchDisconnects: Bool = false) throws(ZMQError) {
        self.endpoint = endpoint
        // A plain pipe, not a libzmq socket: each poll of it is one descriptor for poll(2), with
        // none of the mailbox checks a socket costs on every zmq_poll.
        let wake = WakePipe()

        let dealer = try ZMQSocket(context, .dealer)
        // Queue only to a completed connection: requests that never found a broker stay in our
        // own list and expire there, instead of reaching a broker that starts much later.
        try dealer.setImmediate(true)
        try dealer.setReconnectInterval(100, max: 2000)
        try dealer.setHeartbeat(interval: 2000, timeout: 10_000)
        try dealer.setHighWaterMarks(send: 100_000, receive: 100_000)
        try dealer.setLinger(milliseconds: 200)
        try dealer.secure(with: curve)
        var monitor: ZMQSocket?
        if watchDisconnects {
            let name = "inproc://zerotask-client-monitor-\(Self.monitors.add(1, ordering: .relaxed).newValue)"
            try dealer.monitor(name, events: Int32(ZMQMonitorEvent.disconnected) | Int32(ZMQMonitorEvent.connected))
            let pair = try ZMQSocket(context, .pair)
            try pair.setLinger(milliseconds: 0)
            try pair.connect(name)
            monitor = pair
        }
        // After the monitor: it hears the first connection too.
        try dealer.connect(endpoint)

        commands = CommandQueue(wake: wake)
        let loop = ClientIOLoop(dealer: dealer, monitor: monitor, wake: wake, commands: commands)
        executor = loop
        let thread = Thread { loop.run() }
        thread.name = "zerotask-client-io"
        thread.start()
    }

    deinit { commands.push(.stop) }

    /// Names each monitor's inproc endpoint apart.
    private static let monitors = Atomic<Int>(0)

    /// A fresh JSON-RPC id.
    func nextID() -> Int64 { commands.nextID() }

    /// Hands a request to the I/O thread; its completion runs there, exactly once.
    func send(_ request: OutgoingRequest) { commands.push(.send(request)) }

    /// The caller gave up on a request: it completes with `.cancelled` unless already done.
    func cancel(_ id: Int64) { commands.push(.cancel(id)) }

    /// Stops the I/O thread; every pending request completes with `.closed`.
    func stop() { commands.push(.stop) }

    /// The broker answered a ZeroTask extension, so it is a ZeroTask ROUTER: requests may go
    /// without the empty delimiter frame from now on (one frame less each way per message).
    func useBareFraming() { executor.delimited.store(false, ordering: .relaxed) }
}

/// The commands callers hand to the I/O thread, and the wake-up that goes with them.
final class CommandQueue: Sendable {
    enum Command: @unchecked Sendable {
        case send(OutgoingRequest)
        case cancel(Int64)
        /// A Swift job for the I/O thread to run (see `ClientIOLoop` as a `TaskExecutor`).
        case run(UnownedJob)
        case stop
    }

    private struct State: ~Copyable {
        var commands: [Command] = []
        /// A wake-up byte is on its way and not yet drained: no need for another.
        var wakePending = false
        var stopped = false
        var nextID: Int64 = 1
        /// The I/O thread, once running: what it pushes itself needs no wake-up, since it
        /// looks at the list before it polls again.
        var ioThread: pthread_t?
    }

    private let state: Mutex<State>

    private let wake: WakePipe

    init(wake: WakePipe) {
        self.wake = wake
        state = Mutex(State())
    }

    func nextID() -> Int64 {
        state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    func push(_ command: Command) {
        var signal = false
        let rejected: Command? = state.withLock { s in
            if s.stopped {
                switch command {
                case .send, .run: return command
                default: return nil
                }
            }
            if case .stop = command { s.stopped = true }
            s.commands.append(command)
            if !s.wakePending, !(s.ioThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false) {
                s.wakePending = true
                signal = true
            }
            return nil
        }
        if signal { wake.signal() }
        switch rejected {
        case .send(let r)?: r.completion(.closed)
        // The I/O thread is gone: its Swift jobs run on the global executor instead.
        case .run(let job)?: globalConcurrentExecutor.enqueue(ExecutorJob(job))
        default: break
        }
    }

    /// Marks the queue stopped (later pushes are refused) and returns what it still holds.
    func stopAndTake() -> [Command] {
        state.withLock { s in
            s.stopped = true
            defer { s.commands.removeAll() }
            return s.commands
        }
    }

    /// Called by the I/O thread as it starts.
    func setIOThread() { state.withLock { $0.ioThread = pthread_self() } }

    /// Whether commands wait (the I/O thread must not block in its poll then).
    var isEmpty: Bool { state.withLock { $0.commands.isEmpty } }

    /// Everything pushed since the last call; the next push sends a new wake-up.
    func take() -> [Command] {
        state.withLock { s in
            s.wakePending = false
            defer { s.commands.removeAll(keepingCapacity: true) }
            return s.commands
        }
    }
}

/// The I/O thread's work. Everything here runs on that one thread.
final class ClientIOLoop: TaskExecutor, @unchecked Sendable {
    private let dealer: ZMQSocket
    /// Hears the dealer's connection drop (`ClientConnection(watchDisconnects:)`), or nil.
    private let monitor: ZMQSocket?
    private let wake: WakePipe
    private let commands: CommandQueue
    private var pending = PendingRequests()
    private var stopping = false
    /// The monitor saw the connection drop and not come back: requests fail at once.
    private var down = false
    /// Whether requests carry the empty delimiter frame (see `sendFramed`).
    let delimited = Atomic<Bool>(true)

    init(dealer: ZMQSocket, monitor: ZMQSocket?, wake: WakePipe, commands: CommandQueue) {
        self.dealer = dealer
        self.monitor = monitor
        self.wake = wake
        self.commands = commands
    }

    func enqueue(_ job: consuming ExecutorJob) {
        commands.push(.run(UnownedJob(job)))
    }

    func run() {
        commands.setIOThread()
        var idle = ZMQPoller()
        idle.add(fd: wake.readFD)
        idle.add(dealer, .readable)
        var sending = ZMQPoller()
        sending.add(fd: wake.readFD)
        sending.add(dealer, [.readable, .writable])
        if let monitor {
            idle.add(monitor, .readable)
            sending.add(monitor, .readable)
        }
        var nextSweep = MonotonicInstant(seconds: 0)
        while !stopping {
            // Deadlines are checked every 50 ms: precise enough, and O(1) per message.
            let timeout = !commands.isEmpty ? 0 : pending.isEmpty ? 1000 : 50
            do throws(ZMQError) {
                let ready = pending.hasUnsent
                    ? try sending.poll(timeoutMilliseconds: timeout) : try idle.poll(timeoutMilliseconds: timeout)
                // The monitor is the third item of both poll sets; read only when it has news.
                let monitorReady = monitor != nil && ready.count > 2 && ready[2].contains(.readable)
                drainWake()
                // Replies resume jobs that run here and queue new requests: send those now
                // rather than after another poll.
                var rounds = 0
                repeat {
                    for command in commands.take() { apply(command) }
                    try sendWaiting()
                    try receiveReplies()
                    if monitorReady && rounds == 0 { droppedConnection() }
                    rounds += 1
                } while rounds < 8 && !commands.isEmpty
            } catch where error.isTerminated {
                break
            } catch {
                // A socket error other than would-block is not expected; keep the loop alive.
            }
            let now = MonotonicInstant.now()
            if now >= nextSweep {
                nextSweep = now + 0.05
                for r in pending.expire(now: now) { r.completion(.noAnswer) }
            }
        }
        // However the loop ended (a stop, or libzmq's context terminated): refuse what comes
        // next, and settle what is still listed.
        for command in commands.stopAndTake() {
            switch command {
            case .send(let r): r.completion(.closed)
            case .run(let job): globalConcurrentExecutor.enqueue(ExecutorJob(job))
            case .cancel, .stop: break
            }
        }
        for r in pending.removeAll() { r.completion(.closed) }
        dealer.close(lingerMilliseconds: 200)
        monitor?.close(lingerMilliseconds: 0)
    }

    private func drainWake() {
        wake.drain()
    }

    private func apply(_ command: CommandQueue.Command) {
        switch command {
        case .send(let r):
            if down {
                r.completion(.noAnswer)
            } else if !pending.add(r) {
                r.completion(.cancelled)
            }
        case .cancel(let id):
            pending.cancel(id)?.completion(.cancelled)
        case .run(let job):
            job.runSynchronously(on: asUnownedTaskExecutor())
        case .stop:
            stopping = true
        }
    }

    /// Sends queued requests until libzmq would block (no connection yet, or a full pipe).
    /// Requests that piled up while the thread was busy leave together, as one JSON-RPC batch:
    /// one message and one broker wake-up for many calls.
    private func sendWaiting() throws(ZMQError) {
        while let r = pending.nextUnsent {
            let batch = pending.nextBatch(limit: 512, maxBytes: 256 * 1024)
            if batch.count > 1 {
                var body: [UInt8] = [UInt8(ascii: "[")]
                body.reserveCapacity(batch.reduce(2) { $0 + $1.body.count + 1 })
                for (i, b) in batch.enumerated() {
                    if i > 0 { body.append(UInt8(ascii: ",")) }
                    body.append(contentsOf: b.body)
                }
                body.append(UInt8(ascii: "]"))
                guard try sendFramed(body) else { return }
                for _ in 0..<batch.count { pending.markNextSent() }
            } else {
                guard try sendFramed(r.body) else { return }
                pending.markNextSent()
            }
        }
    }

    /// Sends one body, behind an empty delimiter frame until the broker proved to be a ZeroTask
    /// ROUTER: framed as a REQ socket would frame it, a request reaches a ROUTER and a REP
    /// broker alike (REP drops messages without the delimiter). Replies still match by id, so
    /// many requests stay in flight either way. The extra frame each way is two more libzmq
    /// sends and receives per request on the fast path (`zerotask bench` measured its rate a
    /// few percent lower, within these machines' noise), hence bare frames once the broker is
    /// known. Returns false when libzmq would block.
    private func sendFramed(_ body: [UInt8]) throws(ZMQError) -> Bool {
        if delimited.load(ordering: .relaxed) {
            // Only the first frame can report "would block"; after it libzmq takes the rest.
            guard try dealer.send(UnsafeRawBufferPointer(start: nil, count: 0), more: true, dontWait: true) else { return false }
        }
        return try dealer.send(body, dontWait: true)
    }

    /// The broker's connection dropped: what was sent on it will not be answered, and what is
    /// asked until it is back fails at once (the client fails over to another broker).
    private func droppedConnection() {
        var dropped = false
        while let frames = try? monitor?.receiveFrames(dontWait: true), let event = ZMQMonitorEvent(frames: frames) {
            if event.event == ZMQMonitorEvent.disconnected {
                dropped = true
                down = true
            } else if event.event == ZMQMonitorEvent.connected {
                down = false
            }
        }
        guard dropped else { return }
        for r in pending.takeInFlight() + pending.takeUnsent() { r.completion(.noAnswer) }
    }

    private func receiveReplies() throws(ZMQError) {
        for _ in 0..<4096 {
            guard let frames = try dealer.receiveFrames(dontWait: true) else { return }
            guard let body = frames.last, let value = try? JSONValue.parse(body) else { continue }
            if case .array(let items) = value {
                for item in items { deliver(item) }
            } else {
                deliver(value)
            }
        }
    }

    private func deliver(_ value: JSONValue) {
        // A reply we cannot match (late, after its deadline; or id null) is dropped.
        guard let response = Response(json: value), case .int(let id) = response.id,
            let r = pending.takeReplied(id)
        else { return }
        r.completion(.response(response.outcome))
    }
}

