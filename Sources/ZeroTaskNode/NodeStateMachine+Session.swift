import Logging
import ZeroTaskProtocol

/// The broker session: requests matched to replies by id, registering and registering again,
/// results carried back, a broker that falls silent.
extension NodeStateMachine {
    func send(_ request: NodeRequest, _ kind: RequestKind, now: MonotonicInstant, timeout: Double? = nil) {
        let id = nextRequestID
        nextRequestID += 1
        pending[id] = Pending(kind: kind, deadline: now + (timeout ?? config.requestTimeout), sentAt: now)
        emit(.send(request, id: id))
    }

    /// A one-way message: no id, so the broker sends no reply (the node is a DEALER).
    func notify(_ request: NodeRequest) {
        emit(.send(request, id: nil))
    }

    /// One response from the broker, matched to its request by id.
    func handleResponse(_ response: Response, now: MonotonicInstant) {
        guard case .int(let id) = response.id else { return }
        if let p = pending.removeValue(forKey: id) {
            handle(response.outcome, for: p.kind, now: now)
        } else if abandonedPulls.remove(id) != nil, case .success(let list) = response.outcome {
            // A pull given up on was answered after all: its tasks are ours, run them.
            accept(list, now: now)
        }
    }

    /// The tasks a pull's answer assigns to this node join the waiting line.
    func accept(_ list: JSONValue, now: MonotonicInstant) {
        for item in list.arrayValue ?? [] {
            if var a = Assignment(item) {
                a.receivedAt = now
                waiting.append(a)
            } else {
                logger.warning("unreadable assignment: \(item)")
            }
        }
    }

    private func handle(_ outcome: Result<JSONValue, RPCError>, for kind: RequestKind, now: MonotonicInstant) {
        if brokerSilentSince != nil {
            logger.info("broker answering again")
            brokerSilentSince = nil
        }
        if case .failure(let e) = outcome, e.code == ErrorCode.invalidNodeID.rawValue {
            // The broker restarted or dropped us: register again, keep results for later.
            if registered { logger.warning("broker does not know this node (\(e.message)): registering again") }
            registered = false
            registering = false
            advertisedGeneration = methodsGeneration
            if case .pull = kind { pullInFlight = false }
            takeBack(kind)
            if case .connect = kind { nextRegisterAt = now + 1 }
            return
        }
        switch kind {
        case .connect:
            registering = false
            switch outcome {
            case .success:
                // A pull parked at a broker that restarted will never be answered: forget it.
                for (id, p) in pending {
                    if case .pull = p.kind {
                        pending[id] = nil
                        abandonPull(id)
                        takeBack(p.kind)
                    }
                }
                pullInFlight = false
                registered = true
                advertisedGeneration = methodsGeneration
                lastHeartbeat = now
                logger.info("registered with the broker at \(currentBroker)")
            case .failure(let e):
                logger.error("broker refused node_connect: \(e.message)")
                nextRegisterAt = now + 1
            }
        case .pull:
            pullInFlight = false
            switch outcome {
            case .success(let list):
                accept(list, now: now)
            case .failure(let e):
                logger.error("node_task_pull failed: \(e.message)")
                takeBack(kind)
            }
        case .done(let done):
            switch outcome {
            case .failure(let e):
                logger.error("node_tasks_done failed: \(e.message)")
                takeBack(kind)
            case .success(let answers):
                reported(done, answers: answers)
            }
        case .checkTasks:
            for id in (try? outcome.get())?.arrayValue ?? [] {
                if let s = id.stringValue { cancelTask(s, now: now, abandon: true) }
            }
        case .heartbeat, .advertise, .status, .release:
            if case .failure(let e) = outcome { logger.warning("broker: \(e.message)") }
        case .disconnect:
            registered = false
        }
    }

    /// Remembers a pull that is no longer waited for, so that a late answer still runs its tasks.
    func abandonPull(_ id: Int64) {
        if abandonedPulls.count > 1000 { abandonedPulls.removeAll() }
        abandonedPulls.insert(id)
    }

    /// Results a request carried that the broker did not take: they go back in front, to be sent
    /// again with the next request.
    func takeBack(_ kind: RequestKind) {
        switch kind {
        case .pull(let done), .done(let done): doneBuffer = done + doneBuffer
        default: break
        }
    }

    /// Warns once when a request (a long poll for work aside, which may wait by design) has had
    /// no answer for two heartbeat intervals: the operator hears of a broker that is gone well
    /// before the request timeout gives up on it.
    func warnIfBrokerSilent(now: MonotonicInstant) {
        guard !brokerIsBuiltIn, brokerSilentSince == nil, !pending.isEmpty else { return }
        var oldest = MonotonicInstant.distantFuture
        for p in pending.values {
            if case .pull = p.kind { continue }
            oldest = min(oldest, p.sentAt)
        }
        guard now - oldest >= 2 * config.heartbeatInterval else { return }
        brokerSilentSince = oldest
        logger.warning("broker at \(currentBroker) has not answered for \(SecondsText.format(((now - oldest) * 10).rounded() / 10)) (\(pending.count) request\(pending.count == 1 ? "" : "s") waiting); will keep trying")
    }

    /// A request got no answer in time: the broker is gone or restarted.
    func requestLost(_ id: Int64, _ kind: RequestKind, now: MonotonicInstant) {
        if case .pull = kind { abandonPull(id) }
        if brokerSilentSince == nil {
            brokerSilentSince = now
            logger.warning("broker at \(currentBroker) is not answering; \(config.brokers.count > 1 ? "failing over" : "will keep trying")")
        }
        switch kind {
        case .pull:
            pullInFlight = false
            takeBack(kind)
        case .done:
            takeBack(kind)
        case .connect:
            registering = false
            nextRegisterAt = now + 1
        case .heartbeat:
            // Probe again by registering: a restarted broker answers node_connect.
            registered = false
            registering = false
        default:
            break
        }
        failOver(now: now)
    }
}
