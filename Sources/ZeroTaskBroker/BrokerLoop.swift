import Foundation
import Logging
import Synchronization
import ZeroMQ
import ZeroTaskProtocol

/// The broker thread's work: receive, handle, reply, publish, expire. Owned by one thread.
///
/// Group commit: the replies and notifications of one iteration (up to 512 messages, then the
/// timers) are held until that iteration's durable changes are written to the store in one
/// transaction, so a peer never hears about a task the store does not have.
final class BrokerLoop: @unchecked Sendable {
    var state: BrokerState
    let router: ZMQSocket
    let pub: ZMQSocket
    let store: TaskStore
    let logger: Logger
    private var lastTick = MonotonicInstant(seconds: 0)
    /// Live subscriptions on the publish socket, by prefix, with how many subscribers hold each.
    private var subscriptions: [[UInt8]: Int] = [:]
    /// What this iteration will send once its changes are stored.
    private var held: [Held] = []
    /// Commits run on their own thread for a durable store; nil for memory.
    private let writer: StoreWriter?
    /// Outputs waiting for their commit: sent once `writer.written` reaches `seq`, in order.
    private var awaitingCommit: [(seq: Int, outputs: [Held])] = []

    // A peer in this thread (the node of a built-in broker), served by call, not by socket:
    // its requests carry an empty envelope, and what is sent to that envelope is kept here.
    /// Notification prefixes the local peer wants.
    private var localSubscriptions: [[UInt8]] = []
    /// Replies and notifications for the local peer, each in order, until it takes them.
    private var localReplies: [Response] = []
    private var localNotifications: [[UInt8]] = []

    private enum Held {
        case reply([[UInt8]], [UInt8])
        /// A reply to a request from the monitor's inbox (the HTTP side).
        case inboxReply(@Sendable (Response) -> Void, Response)
        case publish([UInt8])
        /// A reply to the local peer: handed over as it is, never encoded.
        case localReply(Response)
    }

    /// CURVE is on: every message carries its sender's identity (`User-Id`, set by ZAP).
    let secured: Bool
    /// Where snapshots go for `/metrics` and the dashboard; nil: none are taken.
    private let monitor: BrokerMonitor?
    private var lastSnapshot = MonotonicInstant.distantPast
    /// The events' log lines, rate-limited per kind.
    private var eventLog = BrokerEventLog()
    /// The monitor's observer, fed once per turn; nil without one.
    private let batch: TaskObserverBatch?
    /// The broker thread's connections to a shared PostgreSQL queue; nil for a broker of its own.
    private let shared: SharedQueueLink?

    init(
        state: BrokerState, router: ZMQSocket, pub: ZMQSocket, store: TaskStore, logger: Logger, secured: Bool = false,
        monitor: BrokerMonitor? = nil, shared: SharedQueueLink? = nil
    ) {
        self.shared = shared
        self.secured = secured
        self.monitor = monitor
        self.state = state
        // Metrics hear of a turn's transitions at once, not of each task (TaskObservations).
        batch = monitor?.observer.map(TaskObserverBatch.init)
        self.state.observer = batch
        self.router = router
        self.pub = pub
        self.store = store
        self.logger = logger
        writer = store.isDurable ? StoreWriter(store: store, logger: logger) : nil
        if let shared { self.state.shareQueue(reader: shared.reader) }
        updateInterest()
    }

    private func updateInterest() {
        state.interest = NotificationInterest(subscriptions: Array(subscriptions.keys) + localSubscriptions)
    }

    /// Says which notifications the local peer wants (prefixes, as a SUB socket would).
    func subscribeLocal(_ prefixes: [[UInt8]]) {
        localSubscriptions = prefixes
        updateInterest()
    }

    /// Handles a request from the local peer now, typed as it came (no JSON params in between);
    /// `id` nil: a notification. Its reply goes out with the iteration's others (after their
    /// commit), into `localReplies`.
    func handleLocal(_ request: NodeRequest, id: Int64?) {
        let route = ReplyRoute(envelope: [], id: id.map { .int($0) } ?? .null)
        let answer = state.handle(request, route: route, now: MonotonicInstant.now(), canDefer: id != nil)
        if id != nil, let response = Self.response(answer, id: route.id) {
            held.append(.localReply(response))
        }
        flushOutputs()
    }

    /// Takes what was sent to the local peer.
    func takeLocalMessages() -> (replies: [Response], notifications: [[UInt8]]) {
        defer {
            localReplies.removeAll(keepingCapacity: true)
            localNotifications.removeAll(keepingCapacity: true)
        }
        return (localReplies, localNotifications)
    }

    /// Whether anything waits to be sent now (the caller's poll must not block then).
    var hasOutputReady: Bool { !held.isEmpty || !localReplies.isEmpty || !localNotifications.isEmpty }

    /// Serves until `stop` is signalled (or libzmq's context ends), then `finish()`es. The
    /// stop wakes the poll itself: no flag is checked between polls.
    func run(stop: WakePipe) {
        var poller = ZMQPoller()
        addPollItems(to: &poller)
        let stopItem = poller.add(fd: stop.readFD)
        while !terminated {
            do throws(ZMQError) {
                let ready = try poller.poll(timeoutMilliseconds: pollTimeout(cap: 100))
                if ready[stopItem].contains(.readable) { break }
                step(ready[..<stopItem])
            } catch where error.isTerminated {
                break
            } catch {
                logger.error("broker poll failed: \(error)")
            }
        }
        finish()
    }

    /// Set once libzmq's context is terminated: the loop must end.
    private(set) var terminated = false

    /// How many poll items `addPollItems` adds.
    var pollItemCount: Int { (writer == nil ? 2 : 3) + (shared?.fileDescriptor == nil ? 0 : 1) }

    /// Adds what the loop waits on, in the order `step` expects: the request socket, the publish
    /// socket (subscriptions), the store writer's commit signal, and a shared queue's LISTEN
    /// connection.
    func addPollItems(to poller: inout ZMQPoller) {
        poller.add(router)
        poller.add(pub)
        if let writer { poller.add(fd: writer.done.readFD) }
        if let fd = shared?.fileDescriptor { poller.add(fd: fd) }
    }

    /// Milliseconds until the next timer, at most `cap`.
    func pollTimeout(cap: Int) -> Int {
        guard let due = state.nextDeadline else { return cap }
        return max(0, min(cap, Int(((due - MonotonicInstant.now()) * 1000).rounded(.up))))
    }

    /// One turn of the loop after a poll; `ready` holds the events of this loop's items.
    func step(_ ready: ArraySlice<ZMQPoller.Events>) {
        // The writer's commit signal is drained here whenever it is up, even with nothing
        // waiting for it: a byte left in the pipe would keep every poll returning at once.
        if let writer, ready.count > 2, ready[ready.startIndex + 2].contains(.readable) { writer.done.drain() }
        // The shared queue's lease before anything else: a broker presumed dead acts on none of
        // the claims it held.
        if let shared {
            shared.turn(&state, now: MonotonicInstant.now())
            flushOutputs()
        }
        // The inbox is looked at on every turn (one atomic load), not polled: the poll wakes at
        // least every 100 ms, soon enough for a dashboard. (With the inbox's pipe in the poll
        // set, BrokerMemoryTests' flood of bad requests grew the broker by gigabytes; without
        // it the broker stays flat. The cause was not found: see the session report.)
        if let monitor, monitor.inbox.hasLetters { handleInbox(monitor.inbox) }
        do throws(ZMQError) {
            if ready[ready.startIndex + 1].contains(.readable) { try readSubscriptions() }
            // Drain what is waiting, but come back to timers now and then under load.
            for _ in 0..<512 {
                guard let received = try router.receive(dontWait: true, maxFrames: 8) else { break }
                handle(received)
            }
        } catch where error.isTerminated {
            terminated = true
            return
        } catch {
            logger.error("broker socket error: \(error)")
        }
        let now = MonotonicInstant.now()
        if now - lastTick >= 0.05 || (state.nextDeadline.map { $0 <= now } ?? false) {
            lastTick = now
            state.tick(now: now)
            logger.log(eventLog.summaries(now: now))
            flushOutputs()
            if let monitor, now - lastSnapshot >= monitor.interval {
                lastSnapshot = now
                monitor.publish(state.snapshot(now: now))
            }
        }
        batch?.flush()
        commitAndSend()
        sendCommitted()
    }

    /// Stores and sends what is still held, waits for the store writer, sends what it
    /// committed, and closes the sockets and the store.
    func finish() {
        if let monitor { handleInbox(monitor.inbox) }
        state.storeAllCalls()
        flushOutputs()
        batch?.flush()
        commitAndSend()
        if let writer {
            writer.stop()
            sendCommitted()
        }
        router.close(lingerMilliseconds: 500)
        pub.close(lingerMilliseconds: 0)
        shared?.close()
        store.close()
        monitor?.inbox.close()
        logger.notice("broker stopped: \(state.taskCount) tasks (\(state.queuedTaskCount) queued) in store \(store.description)")
    }

    /// Counts (un)subscriptions the XPUB reports (a first byte 1 or 0, then the prefix), and
    /// tells the state which notifications anybody wants.
    func readSubscriptions() throws(ZMQError) {
        var changed = false
        while let frames = try pub.receiveFrames(dontWait: true) {
            guard let f = frames.first, let kind = f.first else { continue }
            let prefix = Array(f.dropFirst())
            if kind == 1 {
                subscriptions[prefix, default: 0] += 1
            } else if kind == 0, let n = subscriptions[prefix] {
                subscriptions[prefix] = n > 1 ? n - 1 : nil
            }
            changed = true
        }
        if changed { updateInterest() }
    }

    /// Hands the iteration's changes to the store writer with what was held back for them;
    /// with nothing to store and nothing waiting for a commit, sends at once.
    func commitAndSend() {
        let changes = state.takeChanges()
        guard let writer, !(changes.isEmpty && awaitingCommit.isEmpty) else {
            send(held)
            held.removeAll(keepingCapacity: true)
            return
        }
        // The local peer waits like any other: a task must not start (its plugin may act on the
        // world) before its submission is on disk — but for a call left out of the changes until
        // its outcome (`BrokerState.deferStoring`), whose caller alone could name it.
        if changes.isEmpty && held.isEmpty { return }
        // Even with no changes of its own, a reply may speak of changes still being written.
        awaitingCommit.append((writer.submit(changes), held))
        held = []
    }

    /// Sends what waited for commits that are now on disk.
    func sendCommitted() {
        if let writer, shared != nil { applyFeedback(writer.takeFeedback()) }
        guard let writer, !awaitingCommit.isEmpty else { return }
        let written = writer.written
        var n = 0
        while n < awaitingCommit.count, awaitingCommit[n].seq <= written {
            send(awaitingCommit[n].outputs)
            n += 1
        }
        awaitingCommit.removeFirst(n)
    }

    /// What the shared queue's commits brought back: claims go to nodes at once (the claim is
    /// stored: that is what their assignment acknowledges), refused writes are given up.
    private func applyFeedback(_ feedback: [StoreFeedback]) {
        guard !feedback.isEmpty else { return }
        let now = MonotonicInstant.now()
        for f in feedback { state.applyShared(f, now: now) }
        flushOutputs()
        send(held)
        held.removeAll(keepingCapacity: true)
    }

    private func send(_ outputs: [Held]) {
        for item in outputs {
            switch item {
            case .reply(let envelope, let body): transmit(envelope, body)
            case .localReply(let response):
                localReplies.append(response)
            case .inboxReply(let answer, let response):
                answer(response)
            case .publish(let bytes):
                _ = try? pub.send(bytes, dontWait: true)
                if localSubscriptions.contains(where: { bytes.starts(with: $0) }) { localNotifications.append(bytes) }
            }
        }
    }

    func handle(_ received: ZMQReceived) {
        guard case .frames(var frames) = received else {
            if case .tooManyFrames(let n) = received { logger.warning("dropped a message of \(n) frames (at most 8 are accepted)") }
            return
        }
        guard frames.count >= 2 else {
            logger.warning("dropped a message without an envelope")
            return
        }
        let body = frames.removeLast()
        var caller: PeerIdentity?
        if secured {
            // Read off the message just received; ZAP gave every admitted peer one.
            guard let who = router.property("User-Id").flatMap(PeerIdentity.init(userID:)) else {
                logger.error("dropped a message without a CURVE identity on a secured socket")
                return
            }
            caller = who
        }
        handle(envelope: frames, body: body, caller: caller)
    }

    /// Handles what the HTTP side asked, as an admin (it checked its own credential): never
    /// parked, and answered after this iteration's changes are stored, like a peer.
    private func handleInbox(_ inbox: BrokerInbox) {
        let admin = secured ? PeerIdentity(role: .admin, name: "http") : nil
        for letter in inbox.take() {
            let route = ReplyRoute(envelope: [], id: letter.request.id ?? .null)
            let answer = state.handle(letter.request, route: route, now: MonotonicInstant.now(), canDefer: false, caller: admin)
            let response = Self.response(answer, id: route.id) ?? Response(id: route.id, error: RPCError(.internalError, "parked"))
            held.append(.inboxReply(letter.answer, response))
        }
        flushOutputs()
    }

    /// Handles one request (or batch) from the peer `envelope` names.
    private func handle(envelope: [[UInt8]], body: [UInt8], caller: PeerIdentity?) {
        // A REQ peer (or a DEALER imitating one) put an empty delimiter: it gets exactly one reply.
        let strict = envelope.count >= 2 && envelope.last!.isEmpty
        let now = MonotonicInstant.now()

        guard body.count <= state.config.maxMessageBytes else {
            let e = RPCError(.invalidRequest, "message of \(body.count) bytes exceeds max_message_bytes (\(state.config.maxMessageBytes))")
            // Answer with the request's id when it is easy to see, so the caller learns why at
            // once instead of waiting out its deadline. The body is not parsed (that would make a
            // refusal cost as much as the work it refuses): only its end, where writers put "id".
            send(envelope, Response(id: Self.trailingID(body), error: e).json)
            return
        }
        let parsed = body.withUnsafeBytes { IncomingBody.parse($0) }
        switch parsed {
        case .single(let call):
            switch call {
            case .invalid(let response):
                send(envelope, response.json)
            case .request(let request):
                let route = ReplyRoute(envelope: envelope, id: request.id ?? .null)
                let answer = state.handle(request, route: route, now: now, canDefer: !request.isNotification, caller: caller)
                if request.isNotification {
                    if case .error(let e) = answer { logger.debug("notification \(request.method) failed: \(e)") }
                    if strict { send(envelope, .null) }
                } else if let response = Self.response(answer, id: route.id) {
                    send(envelope, response.json)
                }
            }
        case .batch(let calls):
            guard calls.count <= state.config.maxBatchEntries else {
                let e = RPCError(.invalidRequest, "batch of \(calls.count) entries exceeds max_batch_entries (\(state.config.maxBatchEntries)); none was handled")
                send(envelope, Response(id: .null, error: e).json)
                break
            }
            var reply = BatchReply(limit: state.config.maxMessageBytes, entries: calls.count)
            for call in calls {
                switch call {
                case .invalid(let response): reply.append(response)
                case .request(let request):
                    let id = request.id ?? .null
                    // Once the reply is full, the rest is not handled: the caller learns which.
                    guard !reply.isFull else {
                        if !request.isNotification { reply.append(Response(id: id, error: BatchReply.notHandled)) }
                        continue
                    }
                    let answer = state.handle(request, route: ReplyRoute(envelope: envelope, id: id), now: now, canDefer: false, caller: caller)
                    if !request.isNotification, let r = Self.response(answer, id: id) { reply.append(r) }
                }
            }
            if let body = reply.body { held.append(.reply(envelope, body)) } else if strict { send(envelope, .null) }
        }
        flushOutputs()
    }

    /// The id of a request object that ends with `"id": VALUE}` (a number, a short string or
    /// null), read from its last bytes only; null otherwise.
    static func trailingID(_ body: [UInt8]) -> JSONValue {
        let tail = Array(body.suffix(160))
        let key = Array("\"id\":".utf8)
        guard let end = tail.lastIndex(of: UInt8(ascii: "}")), tail.count >= key.count else { return .null }
        var i = end - key.count
        while i >= 0 {
            if Array(tail[i..<(i + key.count)]) == key {
                let value = Array(tail[(i + key.count)..<end])
                switch try? JSONValue.parse(value) {
                case .int(let v)?: return .int(v)
                case .uint(let v)?: return .uint(v)
                case .double(let v)?: return .double(v)
                case .string(let v)?: return .string(v)
                default: return .null
                }
            }
            i -= 1
        }
        return .null
    }

    /// The JSON-RPC response to an answer (the edge: the rules' typed reply becomes its JSON
    /// here, `BrokerReply.json`); nil for a parked request.
    static func response(_ answer: BrokerAnswer, id: JSONValue) -> Response? {
        switch answer {
        case .reply(let r): Response(id: id, result: r.json)
        case .error(let e): Response(id: id, error: e)
        case .deferred: nil
        }
    }

    /// Moves the state's outputs behind the replies already held, keeping their order.
    func flushOutputs() {
        if !state.events.isEmpty { logger.log(eventLog.lines(for: state.takeEvents(), now: MonotonicInstant.now())) }
        for output in state.takeOutputs() {
            switch output {
            case .reply(let route, let reply):
                let response = Response(id: route.id, result: reply.json)
                if route.envelope.isEmpty { held.append(.localReply(response)) } else { send(route.envelope, response.json) }
            case .publish(let notification): held.append(.publish(notification.bytes))
            }
        }
    }

    /// Holds a reply until the iteration's changes are stored.
    func send(_ envelope: [[UInt8]], _ body: JSONValue) {
        held.append(.reply(envelope, body.jsonBytes))
    }

    private func transmit(_ envelope: [[UInt8]], _ body: [UInt8]) {
        do {
            _ = try router.send(frames: envelope + [body], dontWait: true)
        } catch {
            // A vanished or saturated peer must never stall everyone else: drop and go on.
            logger.debug("reply dropped: \(error)")
        }
    }
}
