import Foundation
import Synchronization
import ZeroMQ
// One import serves a library user: JSONValue, Params, TaskStatus and the error codes come along.
@_exported import ZeroTaskProtocol

/// A client of a ZeroTask broker: invokes methods by name and gets results back.
///
/// One client holds one DEALER connection served by its own I/O thread, so any number of calls
/// may be in flight from any number of Swift tasks. Every request has a deadline
/// (`requestTimeout`): when no broker answers, calls fail with
/// `ZeroTaskClientError.brokerUnreachable` instead of hanging.
///
/// Results are awaited with the broker's long poll (`client_wait_results`), coalescing
/// concurrent waits into few requests; the client needs no notification from the publish socket.
///
/// When the broker restarts and forgets the client (-32010), the client connects again with the
/// same client id and retries the request once, so new calls keep working; tasks a memory-only
/// broker lost fail with the broker's "unknown task" error.
///
/// Given several brokers (`tcp://a:5555,tcp://b:5555`), the client talks to one at a time and
/// fails over to the next, round robin, when its connection to the current one drops (a killed
/// broker: at once) or that broker leaves a request unanswered past its deadline: it connects
/// there with the same client id and sends the request again. Every
/// submission then carries a task id the client chose, so a submission resent after a failover
/// is idempotent (the broker returns the same task), and waits resume on the new broker
/// (see `ZeroTaskClient+Failover.swift`).
public final class ZeroTaskClient: Sendable {
    /// The brokers to use, in the order they are tried; one endpoint: no failover.
    public let brokers: BrokerEndpoints
    /// The request endpoint of the broker in use, e.g. `tcp://127.0.0.1:5555`.
    public var requestEndpoint: String { link.withLock { brokers[$0.index] } }
    /// The publish endpoint of the broker in use (by default its request endpoint's port plus
    /// one; an explicit `publish` names the first broker's). The client works without
    /// notifications; this is kept for tools that subscribe to them.
    public var publishEndpoint: String? {
        let index = link.withLock { $0.index }
        return index == 0 ? explicitPublish ?? PublishEndpoint.derived(fromRequest: brokers[0])
            : PublishEndpoint.derived(fromRequest: brokers[index])
    }
    /// The id the broker knows this client by; tasks are visible only to their own client.
    public let clientID: String
    /// How long any one request may wait for the broker's answer.
    public let requestTimeout: Duration

    private let explicitPublish: String?
    let context: ZMQContext
    let curve: CurveClientKeys?
    /// The connection in use, to which broker of the list, and how many failovers made it.
    let link: Mutex<Link>
    /// What the task ids this client generates start with (`newTaskID`), and their counter.
    let taskIDPrefix = "f" + String(UInt64.random(in: .min ... .max), radix: 36) + "."
    let taskIDCounter = Atomic<UInt64>(0)
    /// A failover in progress, shared by every request that found the broker gone.
    let failingOver = Mutex<(generation: Int, task: Task<Void, Error>)?>(nil)

    struct Link: Sendable {
        var index: Int
        var generation: Int
        var connection: ClientConnection
    }

    /// The connection requests go to now.
    var connection: ClientConnection { link.withLock { $0.connection } }
    let waiters = ResultWaiters()
    private let methodCache = Mutex<MethodCache>(MethodCache())
    private let reconnecting = Mutex<Task<Void, Error>?>(nil)
    private let closed = Atomic<Bool>(false)
    /// Whether `close` was called.
    var isClosed: Bool { closed.load(ordering: .acquiring) }
    /// Learned from a -32601 to an extension: the broker speaks only the seed methods, so
    /// extensions are not tried again and nothing travels in a batch.
    let seedOnly = Atomic<Bool>(false)
    /// Set once the broker answered an extension: it is a ZeroTask broker.
    let extensionsAnswered = Atomic<Bool>(false)

    /// Whether the broker turned out to implement only the seed methods.
    public var brokerIsSeedOnly: Bool { seedOnly.load(ordering: .relaxed) }

    struct MethodCache {
        var names: Set<String> = []
        /// A seed node (serving any method) was connected, or dropped for silence only.
        var anyServed = false
        var fetchedAt = MonotonicInstant.distantPast
    }

    /// Connects to a broker (`client_connect`).
    ///
    /// - Parameters:
    ///   - request: the broker's request endpoint, or several separated by commas to fail over
    ///     between (`tcp://a:5555,tcp://b:5555`); nil reads `ZEROTASK_BROKER` from the
    ///     environment (as the `zerotask` command does), else `tcp://127.0.0.1:5555`.
    ///   - publish: the broker's publish endpoint; nil means the request endpoint's host with
    ///     the port plus one.
    ///   - clientID: the id to connect as (to see tasks submitted earlier under it); nil lets the
    ///     broker generate one. An id in use by another live connection is refused (-32010).
    ///   - requestTimeout: how long each request may wait for the broker's answer.
    ///   - context: a libzmq context to share; nil creates one for this client.
    ///   - curve: CURVE keys (the broker's public key and this client's key pair) for a broker
    ///     with keys, e.g. `try .environment()` for `ZEROTASK_SECURITY_BROKER_KEY` and
    ///     `ZEROTASK_SECURITY_SECRET_KEY`; nil connects plain. A broker that does not allow the
    ///     key never answers: the call fails with `.brokerUnreachable`.
    /// - Throws: `ZeroTaskClientError.brokerUnreachable` when no broker answers in time,
    ///   `.invalidRequest` when the broker refuses the client id, `.invalidArgument` naming the
    ///   entry of a list that is no endpoint.
    public convenience init(
        request: String? = nil, publish: String? = nil, clientID: String? = nil,
        requestTimeout: Duration = .seconds(10), context: ZMQContext? = nil, curve: CurveClientKeys? = nil
    ) async throws {
        let brokers: BrokerEndpoints
        do {
            brokers = try BrokerEndpoints(parsing: request ?? Self.environmentBroker())
        } catch {
            throw ZeroTaskClientError.invalidArgument(error.description)
        }
        try await self.init(brokers: brokers, publish: publish, clientID: clientID, requestTimeout: requestTimeout,
            context: context, curve: curve)
    }

    /// Connects to the first broker of `brokers` that answers (`client_connect`), trying each
    /// in turn; the others are where the client fails over to. Parameters as for `init(request:)`.
    public init(
        brokers: BrokerEndpoints, publish: String? = nil, clientID: String? = nil,
        requestTimeout: Duration = .seconds(10), context: ZMQContext? = nil, curve: CurveClientKeys? = nil
    ) async throws {
        self.brokers = brokers
        explicitPublish = publish
        self.requestTimeout = requestTimeout
        let context = context ?? ZMQContext()
        self.context = context
        self.curve = curve
        let params: Params = clientID.map { .positional([.string($0)]) } ?? .positional([])
        var found: (index: Int, connection: ClientConnection, id: String)?
        for index in 0..<brokers.count {
            guard let (connection, answer) = try await Self.connect(brokers[index], params, context: context, curve: curve,
                watch: brokers.failsOver, timeout: requestTimeout.seconds)
            else { continue }
            guard let id = answer.stringValue else {
                connection.stop()
                throw ZeroTaskClientError.invalidResponse("client_connect answered \(answer), not a client id")
            }
            found = (index, connection, id)
            break
        }
        guard let found else {
            throw ZeroTaskClientError.brokerUnreachable(endpoint: brokers.description, seconds: requestTimeout.seconds)
        }
        link = Mutex(Link(index: found.index, generation: 0, connection: found.connection))
        self.clientID = found.id
    }

    /// A connection to one broker on which `client_connect(params)` was answered, with the
    /// answer; nil when the broker is unreachable (the next of a list is tried then).
    static func connect(_ endpoint: String, _ params: Params, context: ZMQContext, curve: CurveClientKeys?, watch: Bool,
        timeout: Double) async throws -> (ClientConnection, JSONValue)?
    {
        let connection = try open(endpoint, context: context, curve: curve, watch: watch)
        do {
            return (connection, try await send(connection, .clientConnect, params, timeout: timeout))
        } catch ZeroTaskClientError.brokerUnreachable {
            connection.stop()
            return nil
        } catch {
            connection.stop()
            throw error
        }
    }

    /// A connection to one broker (its sockets only: nothing is sent yet).
    /// - Parameter watch: whether a dropped connection fails its requests at once (to fail over).
    static func open(_ endpoint: String, context: ZMQContext, curve: CurveClientKeys?, watch: Bool) throws -> ClientConnection {
        do {
            return try ClientConnection(endpoint: endpoint, context: context, curve: curve, watchDisconnects: watch)
        } catch {
            throw ZeroTaskClientError.invalidArgument("cannot connect to \(endpoint): \(error.message)")
        }
    }

    deinit { link.withLock { $0.connection.stop() } }

    /// The broker endpoint (or comma-separated failover list) when none is given:
    /// `ZEROTASK_BROKER` when set and not empty, else the broker's default request endpoint on
    /// this machine.
    public static func environmentBroker(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let env = environment["ZEROTASK_BROKER"], !env.isEmpty { return env }
        return defaultBroker
    }

    /// Where a broker listens by default: `tcp://127.0.0.1:5555`.
    public static let defaultBroker = "tcp://127.0.0.1:5555"

    /// The client's I/O thread as a task executor. Code that mostly makes calls runs best
    /// there: its requests leave and its replies resume it without switching threads.
    ///
    ///     await withTaskExecutorPreference(client.executor) {
    ///         await withTaskGroup(of: Void.self) { group in … try await client.call(…) … }
    ///     }
    ///
    /// Keep heavy computation elsewhere: while a job runs there, no reply is read.
    public var executor: any TaskExecutor { connection.executor }

    /// Disconnects from the broker (`client_disconnect`, so the id is free for the next
    /// connection at once) and stops the I/O thread. Pending calls fail with `.closed`.
    public func close() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        waiters.closeAll()
        _ = try? await Self.send(connection, .clientDisconnect, .positional([.string(clientID)]),
            timeout: min(requestTimeout.seconds, 2))
        connection.stop()
    }

    // MARK: Requests

    /// Calls a broker method (`zerotask.broker.NAME`) and returns its result. On -32010 (the
    /// broker forgot this client, e.g. after a restart) it connects again and retries once.
    /// With several brokers, a request left unanswered fails over to the next broker and is
    /// sent again there (each broker at most once per request).
    /// - Parameter wait: extra seconds the broker may hold the request (long polls).
    /// An extension the broker does not implement (-32601) throws `.unsupported`, at once
    /// once that is known, so callers can fall back to the seed methods.
    func rpc(_ method: BrokerMethod, _ params: Params, wait: Double = 0) async throws -> JSONValue {
        var (connection, generation) = link.withLock { ($0.connection, $0.generation) }
        var failovers = 0
        while true {
            do {
                return try await rpc(method, params, wait: wait, on: connection)
            } catch let error as ZeroTaskClientError where failovers + 1 < brokers.count && isLostBroker(error) {
                failovers += 1
                try await failOver(from: generation)
                (connection, generation) = link.withLock { ($0.connection, $0.generation) }
            }
        }
    }

    /// `rpc` on one connection, without failover.
    private func rpc(_ method: BrokerMethod, _ params: Params, wait: Double, on connection: ClientConnection)
        async throws -> JSONValue
    {
        guard !closed.load(ordering: .acquiring) else { throw ZeroTaskClientError.closed }
        let timeout = requestTimeout.seconds + wait
        let seed = seedOnly.load(ordering: .relaxed)
        if seed && !method.isSeed {
            throw ZeroTaskClientError.unsupported(method: method.wireName, endpoint: connection.endpoint)
        }
        // A seed broker may not read JSON-RPC batches: once it is known, requests go one by one.
        let batchable = wait == 0 && !seed
        let answer: JSONValue
        do {
            do {
                answer = try await Self.send(connection, method, params, timeout: timeout, batchable: batchable)
            } catch ZeroTaskClientError.invalidRequest(let e) where e.code == ErrorCode.invalidClientID.rawValue {
                try await reconnect(connection)
                answer = try await Self.send(connection, method, params, timeout: timeout, batchable: batchable)
            }
        } catch ZeroTaskClientError.invalidRequest(let e)
            where e.code == ErrorCode.methodNotFound.rawValue && !method.isSeed
        {
            seedOnly.store(true, ordering: .relaxed)
            throw ZeroTaskClientError.unsupported(method: method.wireName, endpoint: connection.endpoint)
        }
        if !extensionsAnswered.load(ordering: .relaxed), !method.isSeed {
            extensionsAnswered.store(true, ordering: .relaxed)
            connection.useBareFraming()
        }
        return answer
    }

    /// Connects again under the same id; concurrent callers share one attempt.
    func reconnect(_ connection: ClientConnection) async throws {
        let task = reconnecting.withLock { current -> Task<Void, Error> in
            if let current { return current }
            let t = Task { [clientID, requestTimeout] in
                _ = try await Self.send(connection, .clientConnect, .positional([.string(clientID)]),
                    timeout: requestTimeout.seconds)
            }
            current = t
            return t
        }
        defer { reconnecting.withLock { if $0 == task { $0 = nil } } }
        try await task.value
    }

    /// Whether `method` was seen served within the last 2 s (by a node advertising it, or by a
    /// seed node, which serves any).
    func servedRecently(_ method: String) -> Bool {
        methodCache.withLock { c in MonotonicInstant.now() - c.fetchedAt < 2 && (c.anyServed || c.names.contains(method)) }
    }

    func rememberServed(_ methods: [MethodInfo]) {
        let names = Set(methods.filter { !$0.servesAny && !$0.nodes.isEmpty }.map(\.name))
        let any = methods.contains(where: \.seedNodeAvailable)
        methodCache.withLock { c in
            c.names = names
            c.anyServed = any
            c.fetchedAt = MonotonicInstant.now()
        }
    }

    /// Sends one request and awaits its answer, mapping every outcome to the client's errors.
    /// - Parameter batchable: whether the request may travel in a JSON-RPC batch; a request the
    ///   broker may hold (a long poll) may not, since a broker answers a batch at once.
    static func send(_ connection: ClientConnection, _ method: BrokerMethod, _ params: Params, timeout: Double,
                     batchable: Bool = true)
        async throws -> JSONValue
    {
        let id = connection.nextID()
        let body = Request(method: method.wireName, params: params, id: .int(id)).json.jsonBytes
        let deadline = MonotonicInstant.now() + timeout
        let outcome: ReplyOutcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                var request = OutgoingRequest(id: id, body: body, deadline: deadline) { continuation.resume(returning: $0) }
                request.batchable = batchable
                connection.send(request)
            }
        } onCancel: {
            connection.cancel(id)
        }
        switch outcome {
        case .response(.success(let v)): return v
        case .response(.failure(let e)): throw ZeroTaskClientError.invalidRequest(e)
        case .noAnswer: throw ZeroTaskClientError.brokerUnreachable(endpoint: connection.endpoint, seconds: timeout)
        case .cancelled: throw CancellationError()
        case .closed: throw ZeroTaskClientError.closed
        }
    }
}
