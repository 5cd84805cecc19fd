#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskSystem

/// The broker's I/O: a ROUTER socket for requests and a PUB socket for notifications, served by
/// one thread of its own that owns the `BrokerState`. Every request is handled to completion on
/// that thread, so there are no locks on the hot path and no hops between threads.
///
/// Run by `serve()`; a `Service` for a `ServiceGroup` through ZeroTaskLifecycle, where graceful
/// shutdown and cancellation both store what the broker holds (pending commits are written) and
/// stop it; neither blocks the caller's task.
public final class BrokerService: @unchecked Sendable {
    public let config: BrokerConfig
    public let logger: Logger
    /// Where clients, tasks and results are kept across restarts.
    public let store: TaskStore
    private let context: ZMQContext
    private let requestEndpoint: String
    private let publishEndpoint: String
    /// Wakes the broker's poll to stop it.
    private let stopping = WakePipe()
    private var thread: LoopThread?
    /// The endpoints actually bound (wildcard ports resolved), known after `start()`.
    public private(set) var boundRequestEndpoint = ""
    public private(set) var boundPublishEndpoint = ""
    /// CURVE on both sockets, or nil (plain text: bind loopback only).
    public let security: BrokerSecurity?
    /// Answers the handshakes of both sockets; lives as long as the service, so that no socket
    /// ever runs without it (libzmq lets every key in when no handler is bound).
    private var zap: ZAPHandler?
    /// Receives snapshots, store health and task transitions (metrics); nil: none are made.
    public let monitor: BrokerMonitor?

    public init(
        config: BrokerConfig = BrokerConfig(), request: String = "tcp://127.0.0.1:5555", publish: String = "tcp://127.0.0.1:5556",
        store: TaskStore = MemoryTaskStore(), context: ZMQContext = ZMQContext(),
        logger: Logger = Logger(label: "zerotask.broker"), security: BrokerSecurity? = nil, monitor: BrokerMonitor? = nil
    ) {
        self.monitor = monitor
        self.security = security
        self.config = config
        self.store = store
        self.requestEndpoint = request
        self.publishEndpoint = publish
        self.context = context
        self.logger = logger
    }

    /// Loads the store, binds both sockets (so a taken port fails here, at once) and starts
    /// serving on a new thread.
    public func start() throws {
        let loop = try makeLoop()
        thread = LoopThread(name: "zerotask-broker") { [stopping] in loop.run(stop: stopping) }
    }

    /// Loads the store and binds both sockets like `start()`, but starts no thread: the caller's
    /// own poll loop drives the broker (a node's built-in broker runs on the node's thread, so a
    /// task crosses no thread between them).
    public func startEmbedded() throws -> EmbeddedBroker {
        let loop = try makeLoop()
        // The embedded broker outlives this service object: it keeps the ZAP handler running
        // until its sockets are closed.
        defer { zap = nil }
        return EmbeddedBroker(loop, zap: zap)
    }

    private func makeLoop() throws -> BrokerLoop {
        var state = BrokerState(config: config, wallClock: { WallInstant.now() }, idPrefix: Self.randomPrefix())
        state.journaling = store.isDurable
        // The loop gives the state its monitor's observer, batched per turn (BrokerLoop.init).
        if store.isDurable {
            let contents = try store.load()
            state.restore(contents, now: MonotonicInstant.now())
            logger.info("store \(store.description): \(contents.tasks.count) tasks (\(state.queuedTaskCount) queued), \(contents.clients.count) clients")
        }
        // The config file's schedules, again at each start (after the store's, whose latest ticks they keep).
        state.declareSchedules(config.schedules, now: MonotonicInstant.now())
        let router = try ZMQSocket(context, .router)
        // XPUB: like PUB, and it tells who subscribes to what (see NotificationInterest).
        let pub = try ZMQSocket(context, .xpub)
        if let security {
            // The handler first: a CURVE server socket bound without one would let every key in.
            if zap == nil {
                let peers = security.peers
                zap = try ZAPHandler(context: context) { request in
                    peers.authorize(request, roles: request.domain == BrokerSecurity.publishDomain ? [.node, .admin] : Set(PeerRole.allCases))
                }
            }
            try router.makeCurveServer(security.keys, domain: BrokerSecurity.requestDomain)
            try pub.makeCurveServer(security.keys, domain: BrokerSecurity.publishDomain)
        }
        try pub.setXPubVerboser(true)
        // libzmq drops a peer that sends more than this; below it, oversize bodies get -32600.
        try router.setMaxMessageSize(Int64(max(config.maxMessageBytes * 4, 16 << 20)))
        try router.setHighWaterMarks(send: 100_000, receive: 100_000)
        try pub.setHighWaterMarks(send: 100_000, receive: 1000)
        if security == nil {
            // A peer that reconnects with the same routing id (a node's is its node id) takes it
            // over. Without keys nothing authenticates a connection anyway (docs/IDENTITY.md).
            try router.setRouterHandover(true)
        } else {
            // With keys, a routing id is never taken from its holder (another key's peer would
            // get the holder's replies): peers use libzmq's own ids, and a node's key moves its
            // node id to a new connection. Heartbeats end connections that died silently.
            try router.setRouterHandover(false)
            try router.setHeartbeat(interval: 2000, timeout: 6000)
        }
        try router.bind(requestEndpoint)
        try pub.bind(publishEndpoint)
        boundRequestEndpoint = router.lastEndpoint ?? requestEndpoint
        boundPublishEndpoint = pub.lastEndpoint ?? publishEndpoint
        logger.info("broker listening", metadata: ["request": "\(boundRequestEndpoint)", "publish": "\(boundPublishEndpoint)"])
        if let security {
            let counts = security.peers.counts
            logger.notice("CURVE on: broker key \(security.keys.publicKey); allowed keys: \(counts[.client] ?? 0) clients, \(counts[.node] ?? 0) nodes, \(counts[.admin] ?? 0) admins (\(security.peers.directory))")
        }
        let observed = monitor.map { ObservedTaskStore(store, monitor: $0) } ?? store
        // Several brokers on one database: the lease, rescues, look-ups and wake-ups.
        var shared: SharedQueueLink?
        if let s = store as? PostgresSharedStore {
            shared = try SharedQueueLink(s.options, store: s, logger: logger)
            logger.info("shared queue \(s.description): broker \(s.options.brokerID), broker_timeout \(s.options.brokerTimeout) s\(s.options.listening ? "" : ", polling (no LISTEN)")")
        }
        return BrokerLoop(
            state: state, router: router, pub: pub, store: observed, logger: logger, secured: security != nil, monitor: monitor,
            shared: shared)
    }

    /// Asks the broker to store what it holds and stop; returns at once.
    public func requestStop() { stopping.signal() }

    /// Stops serving and closes the sockets; returns once the broker thread has ended.
    public func stop() {
        requestStop()
        thread?.wait()
        thread = nil
    }

    /// Starts, then serves until `requestStop()` or cancellation of the surrounding task;
    /// returns once the store has what the broker held. (A `ServiceGroup`'s graceful shutdown
    /// calls `requestStop()`: ZeroTaskLifecycle.)
    public func serve() async throws {
        try start()
        guard let thread else { return }
        // The handler only wakes the broker's thread; the thread itself does the storing.
        await withTaskCancellationHandler {
            await thread.ended()
        } onCancel: {
            self.requestStop()
        }
        stop()
    }

    deinit {
        stop()
        zap?.stop()
    }

    /// Four random base-36 characters, so generated ids differ across broker restarts.
    static func randomPrefix() -> String {
        String(UInt32.random(in: 0..<1_679_616), radix: 36).leftPadded(to: 4) + "."
    }
}

/// A broker driven by another loop's `zmq_poll` (see `BrokerService.startEmbedded`). Use it from
/// that loop's thread only.
public final class EmbeddedBroker: @unchecked Sendable {
    private let loop: BrokerLoop
    private let zap: ZAPHandler?
    private var finished = false

    init(_ loop: BrokerLoop, zap: ZAPHandler?) {
        self.loop = loop
        self.zap = zap
    }

    /// How many items `addPollItems` adds to a poller.
    public var pollItemCount: Int { loop.pollItemCount }

    /// Adds the broker's sockets and descriptors to the caller's poller, `pollItemCount` in a row.
    public func addPollItems(to poller: inout ZMQPoller) { loop.addPollItems(to: &poller) }

    /// Milliseconds the caller may block in its poll before the broker's next timer, at most `cap`.
    public func pollTimeout(cap: Int) -> Int { loop.pollTimeout(cap: cap) }

    /// Serves what arrived: call after every poll with the events of the broker's items.
    public func step(_ ready: ArraySlice<ZMQPoller.Events>) {
        if !finished && !loop.terminated { loop.step(ready) }
    }

    /// A peer in the caller's thread (the node of a built-in broker), served without sockets:
    /// requests go in by `handleLocal`, replies and the notifications it subscribed to come
    /// out of `takeLocalMessages`.
    public func subscribeLocal(_ prefixes: [String]) { loop.subscribeLocal(prefixes.map { Array($0.utf8) }) }

    /// Handles one request from the local peer, typed (`id` nil: a notification); its reply
    /// comes after a later `step`.
    public func handleLocal(_ request: NodeRequest, id: Int64?) { loop.handleLocal(request, id: id) }

    /// What the broker sent the local peer since the last call, in order: replies as they are,
    /// notifications as published.
    public func takeLocalMessages() -> (replies: [Response], notifications: [[UInt8]]) { loop.takeLocalMessages() }

    /// Whether something waits to go out or to be taken: the caller's poll must not block.
    public var hasOutputReady: Bool { loop.hasOutputReady }

    /// Stops serving: waits for pending commits, closes the sockets and the store.
    public func finish() {
        guard !finished else { return }
        finished = true
        loop.finish()
        // After the sockets are closed, so that no handshake meets a missing handler.
        zap?.stop()
    }
}

/// CURVE for the broker's two sockets: its own key pair, and the keys it allows (by role).
public struct BrokerSecurity: Sendable {
    /// The ZAP domain of the request socket: every allowed key.
    public static let requestDomain = "zerotask"
    /// The ZAP domain of the publish socket: node and admin keys only, since notifications name
    /// every tenant's task ids.
    public static let publishDomain = "zerotask-publish"

    public var keys: CurveKeyPair
    public var peers: PeerKeys

    public init(keys: CurveKeyPair, peers: PeerKeys) {
        self.keys = keys
        self.peers = peers
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

