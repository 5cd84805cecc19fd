import ZeroTaskProtocol

/// What became of one request sent through a `ClientConnection`.
enum ReplyOutcome: Sendable {
    /// The broker answered with a result or an error.
    case response(Result<JSONValue, RPCError>)
    /// No answer before the request's deadline (never sent, or sent and unanswered).
    case noAnswer
    /// The caller gave up (its Swift task was cancelled).
    case cancelled
    /// The connection was stopped.
    case closed
}

/// One request on its way: the encoded body, its deadline and whom to tell.
struct OutgoingRequest: Sendable {
    let id: Int64
    let body: [UInt8]
    /// Monotonic seconds.
    let deadline: MonotonicInstant
    /// May travel in a JSON-RPC batch with others; long polls may not (a broker answers a
    /// batch at once, so a poll inside one would not wait).
    var batchable = true
    /// Called once, on the I/O thread.
    let completion: @Sendable (ReplyOutcome) -> Void
}

/// The requests a connection holds: waiting to be sent (no broker connection yet) or sent and
/// waiting for their reply. Pure bookkeeping, no I/O: the I/O thread drives it.
struct PendingRequests {
    /// Not yet handed to libzmq, oldest first.
    private(set) var unsent: [OutgoingRequest] = []
    private var unsentHead = 0
    /// Sent, by JSON-RPC id.
    private var inFlight: [Int64: OutgoingRequest] = [:]
    /// Cancellations that overtook their request (the caller was cancelled before it enqueued).
    private var earlyCancels: Set<Int64> = []

    var hasUnsent: Bool { unsentHead < unsent.count }
    var isEmpty: Bool { !hasUnsent && inFlight.isEmpty }
    var inFlightCount: Int { inFlight.count }

    /// Queues a request; returns false when it was already cancelled (the caller completes it).
    mutating func add(_ r: OutgoingRequest) -> Bool {
        if earlyCancels.remove(r.id) != nil { return false }
        unsent.append(r)
        return true
    }

    /// The oldest unsent request, to try sending.
    var nextUnsent: OutgoingRequest? { hasUnsent ? unsent[unsentHead] : nil }

    /// The oldest unsent requests that may share one batch: batchable, at most `limit` of them
    /// and about `maxBytes` of JSON. Empty when the oldest is not batchable.
    func nextBatch(limit: Int, maxBytes: Int) -> ArraySlice<OutgoingRequest> {
        var end = unsentHead
        var bytes = 0
        while end < unsent.count, end - unsentHead < limit, unsent[end].batchable, bytes + unsent[end].body.count <= maxBytes {
            bytes += unsent[end].body.count + 1
            end += 1
        }
        return unsent[unsentHead..<end]
    }

    /// The oldest unsent request left libzmq's hands: it now waits for its reply.
    mutating func markNextSent() {
        guard hasUnsent else { return }
        let r = unsent[unsentHead]
        unsentHead += 1
        inFlight[r.id] = r
        compact()
    }

    /// Takes the request a reply answers; nil for a late or unknown id.
    mutating func takeReplied(_ id: Int64) -> OutgoingRequest? { inFlight.removeValue(forKey: id) }

    /// Removes a request the caller gave up on; records the id when the request is not here yet.
    mutating func cancel(_ id: Int64) -> OutgoingRequest? {
        if let r = inFlight.removeValue(forKey: id) { return r }
        if let i = unsent[unsentHead...].firstIndex(where: { $0.id == id }) {
            return unsent.remove(at: i)
        }
        // Usually the request is about to arrive; a cancel that raced its completion never
        // finds one, so the set is cleared now and then rather than kept forever.
        if earlyCancels.count >= 4096 { earlyCancels.removeAll() }
        earlyCancels.insert(id)
        return nil
    }

    /// Removes and returns every request whose deadline has passed.
    mutating func expire(now: MonotonicInstant) -> [OutgoingRequest] {
        var out: [OutgoingRequest] = []
        for (id, r) in inFlight where r.deadline <= now {
            inFlight[id] = nil
            out.append(r)
        }
        if unsent[unsentHead...].contains(where: { $0.deadline <= now }) {
            let live = unsent[unsentHead...]
            out += live.filter { $0.deadline <= now }
            unsent = live.filter { $0.deadline > now }
            unsentHead = 0
        }
        return out
    }

    /// Removes and returns the requests sent and not answered (the connection dropped).
    mutating func takeInFlight() -> [OutgoingRequest] {
        defer { inFlight = [:] }
        return Array(inFlight.values)
    }

    /// Removes and returns the requests not sent yet.
    mutating func takeUnsent() -> [OutgoingRequest] {
        defer {
            unsent = []
            unsentHead = 0
        }
        return Array(unsent[unsentHead...])
    }

    /// Removes and returns everything (the connection stops).
    mutating func removeAll() -> [OutgoingRequest] {
        let out = Array(unsent[unsentHead...]) + Array(inFlight.values)
        unsent = []
        unsentHead = 0
        inFlight = [:]
        return out
    }

    private mutating func compact() {
        if unsentHead == unsent.count {
            unsent.removeAll(keepingCapacity: true)
            unsentHead = 0
        } else if unsentHead > 1024 && unsentHead * 2 > unsent.count {
            unsent.removeFirst(unsentHead)
            unsentHead = 0
        }
    }
}
