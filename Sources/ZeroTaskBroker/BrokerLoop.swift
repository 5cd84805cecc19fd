import Logging
import Synchronization
import ZeroMQ
import ZeroTaskProtocol

/// The broker thread's work: receive, handle, reply, publish, expire. Owned by one thread.
final class BrokerLoop: @unchecked Sendable {
    var state: BrokerState
    let router: ZMQSocket
    let pub: ZMQSocket
    let logger: Logger
    private var lastTick = 0.0

    init(state: BrokerState, router: ZMQSocket, pub: ZMQSocket, logger: Logger) {
        self.state = state
        self.router = router
        self.pub = pub
        self.logger = logger
    }

    func run(stopping: StopFlag) {
        var poller = ZMQPoller()
        poller.add(router)
        while !stopping.isSet {
            var timeout = 100
            if let due = state.nextDeadline {
                timeout = max(0, min(timeout, Int(((due - monotonicNow()) * 1000).rounded(.up))))
            }
            do throws(ZMQError) {
                _ = try poller.poll(timeoutMilliseconds: timeout)
                // Drain what is waiting, but come back to timers now and then under load.
                for _ in 0..<512 {
                    guard let received = try router.receive(dontWait: true, maxFrames: 8) else { break }
                    handle(received)
                }
            } catch where error.isTerminated {
                break
            } catch {
                logger.error("broker socket error: \(error)")
            }
            let now = monotonicNow()
            if now - lastTick >= 0.05 || (state.nextDeadline.map { $0 <= now } ?? false) {
                lastTick = now
                state.tick(now: now)
                flushOutputs()
            }
        }
        router.close(lingerMilliseconds: 500)
        pub.close(lingerMilliseconds: 0)
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
        let envelope = frames
        // A REQ peer (or a DEALER imitating one) put an empty delimiter: it gets exactly one reply.
        let strict = envelope.count >= 2 && envelope.last!.isEmpty
        let now = monotonicNow()

        guard body.count <= state.config.maxMessageBytes else {
            let e = RPCError(.invalidRequest, "message of \(body.count) bytes exceeds max_message_bytes (\(state.config.maxMessageBytes))")
            send(envelope, Response(id: .null, error: e).json)
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
                let answer = state.handle(request, route: route, now: now, canDefer: !request.isNotification)
                if request.isNotification {
                    if case .error(let e) = answer { logger.debug("notification \(request.method) failed: \(e)") }
                    if strict { send(envelope, .null) }
                } else if let response = Self.response(answer, id: route.id) {
                    send(envelope, response.json)
                }
            }
        case .batch(let calls):
            var responses: [JSONValue] = []
            for call in calls {
                switch call {
                case .invalid(let response): responses.append(response.json)
                case .request(let request):
                    let route = ReplyRoute(envelope: envelope, id: request.id ?? .null)
                    let answer = state.handle(request, route: route, now: now, canDefer: false)
                    if !request.isNotification, let r = Self.response(answer, id: route.id) { responses.append(r.json) }
                }
            }
            if !responses.isEmpty { send(envelope, .array(responses)) } else if strict { send(envelope, .null) }
        }
        flushOutputs()
    }

    static func response(_ answer: BrokerAnswer, id: JSONValue) -> Response? {
        switch answer {
        case .result(let r): Response(id: id, result: r)
        case .error(let e): Response(id: id, error: e)
        case .deferred: nil
        }
    }

    func flushOutputs() {
        for output in state.takeOutputs() {
            switch output {
            case .reply(let route, let response): send(route.envelope, response.json)
            case .publish(let bytes): _ = try? pub.send(bytes, dontWait: true)
            }
        }
    }

    func send(_ envelope: [[UInt8]], _ body: JSONValue) {
        do {
            for frame in envelope { try router.send(frame, more: true, dontWait: true) }
            try router.send(body.jsonBytes, dontWait: true)
        } catch {
            // A vanished or saturated peer must never stall everyone else: drop and go on.
            logger.debug("reply dropped: \(error)")
        }
    }
}
