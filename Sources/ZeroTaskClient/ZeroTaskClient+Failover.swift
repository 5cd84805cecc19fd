import ZeroTaskProtocol

/// Failing over between the brokers of a list (`ZeroTaskClient.brokers`).
///
/// A broker whose connection drops (its process ended: the DEALER's monitor tells at once), or
/// that leaves a request unanswered past its deadline (`requestTimeout`, plus the wait of a long
/// poll), is taken as gone: the client opens a connection to the next broker of
/// the list, round robin, connects there with its same client id (`client_connect`), and sends
/// the request again. What follows the request's kind:
///
/// - submissions (`submit`, `submitBatch`, `call`) carry a task id the client chose whenever
///   the list holds more than one broker, so a submission the old broker took but never
///   answered is resent with the same id, which the broker treats as idempotent;
/// - `call` (`client_call`) resent submits or finds the task and waits for it there;
/// - result waits (`client_wait_results`) resume on the new broker. A broker that shares its
///   store with the old one (PostgreSQL) knows the task; one that does not answers "unknown
///   task" for it.
extension ZeroTaskClient {
    /// Whether `error` says the broker in use is gone: no answer in time, or a connection a
    /// failover closed under the request (the client itself still open).
    func isLostBroker(_ error: ZeroTaskClientError) -> Bool {
        switch error {
        case .brokerUnreachable: return true
        case .closed: return !isClosed
        default: return false
        }
    }

    /// Moves to the next broker that answers, unless another request did since `generation`;
    /// concurrent callers share one attempt.
    /// - Throws: `.brokerUnreachable` naming the list when no other broker answers.
    func failOver(from generation: Int) async throws {
        let task = failingOver.withLock { current -> Task<Void, Error> in
            if let current, current.generation == generation { return current.task }
            let t = Task { try await self.moveToNextBroker(from: generation) }
            current = (generation, t)
            return t
        }
        try await task.value
    }

    private func moveToNextBroker(from generation: Int) async throws {
        let (start, now) = link.withLock { ($0.index, $0.generation) }
        guard now == generation else { return }
        var index = start
        for _ in 1..<brokers.count {
            index = brokers.next(after: index)
            guard let (connection, _) = try await Self.connect(brokers[index], .positional([.string(clientID)]), context: context,
                curve: curve, watch: true, timeout: requestTimeout.seconds)
            else { continue }
            let old = link.withLock { l -> ClientConnection in
                let old = l.connection
                l = Link(index: index, generation: l.generation + 1, connection: connection)
                return old
            }
            // What the old broker taught about framing and extensions is learnt again.
            extensionsAnswered.store(false, ordering: .relaxed)
            seedOnly.store(false, ordering: .relaxed)
            // Requests still waiting on it complete as closed, and are sent again here.
            old.stop()
            return
        }
        throw ZeroTaskClientError.brokerUnreachable(endpoint: brokers.description, seconds: requestTimeout.seconds)
    }

    /// The options of a submission, with a task id the client chose when it may fail over (a
    /// resend must name the same task).
    func resendable(_ options: TaskOptions) -> TaskOptions {
        guard brokers.failsOver, options.taskID == nil else { return options }
        var o = options
        o.taskID = newTaskID()
        return o
    }

    /// Whether the broker refused a submission as "task id taken": for an id this client
    /// generated (`resendable`), only its own earlier send of that submission can hold it (a
    /// resend after a failover, of a task that has finished meanwhile), so the task is there.
    static func isTaken(_ error: ZeroTaskClientError) -> Bool {
        guard let e = error.rpcError else { return false }
        return e.code == ErrorCode.invalidTaskID.rawValue && e.message.hasSuffix("is taken")
    }

    /// A task id no other submission of this client uses: this client object's random prefix
    /// (64 bits, so two clients under one client id never meet) and a counter.
    func newTaskID() -> String {
        taskIDPrefix + String(taskIDCounter.add(1, ordering: .relaxed).newValue, radix: 36)
    }
}
