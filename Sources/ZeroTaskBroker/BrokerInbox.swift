import Synchronization
import ZeroTaskProtocol

/// Requests from outside the broker's thread (the HTTP side's dashboard and actions), answered
/// on it: `ask` queues a request and raises a flag the broker loop reads on every turn (its
/// poll wakes at least every 100 ms); the loop handles what is queued as an admin would, and
/// resumes each caller with its reply once the iteration's changes are stored. Nothing outside
/// the broker thread ever touches its state.
public final class BrokerInbox: Sendable {
    /// A request and whom to answer.
    struct Letter: Sendable {
        var request: Request
        var answer: @Sendable (Response) -> Void
    }

    /// Letters wait: the broker loop reads it on every turn, without taking the lock.
    private let waiting = Atomic<Bool>(false)
    private let letters = Mutex<(queued: [Letter], closed: Bool)>(([], false))

    public init() {}

    /// Asks the broker; returns its reply (-32603 when the broker has stopped).
    public func ask(_ request: Request) async -> Response {
        await withCheckedContinuation { (c: CheckedContinuation<Response, Never>) in
            let letter = Letter(request: request) { c.resume(returning: $0) }
            let closed = letters.withLock { box in
                if !box.closed {
                    box.queued.append(letter)
                    waiting.store(true, ordering: .releasing)
                }
                return box.closed
            }
            if closed { letter.answer(Self.stopped(request)) }
        }
    }

    /// Asks the broker to run `method` with named params.
    public func ask(_ method: BrokerMethod, _ params: JSONObject = [:]) async -> Response {
        await ask(Request(method: method.wireName, params: .named(params), id: .int(1)))
    }

    /// Whether letters wait (cheap: the broker loop asks on every turn).
    var hasLetters: Bool { waiting.load(ordering: .acquiring) }

    /// The letters waiting now, for the broker thread.
    func take() -> [Letter] {
        letters.withLock { box in
            waiting.store(false, ordering: .relaxed)
            defer { box.queued.removeAll() }
            return box.queued
        }
    }

    /// The broker stops: what waits and what comes later is answered with an error.
    func close() {
        let left = letters.withLock { box in
            box.closed = true
            defer { box.queued.removeAll() }
            return box.queued
        }
        for l in left { l.answer(Self.stopped(l.request)) }
    }

    private static func stopped(_ r: Request) -> Response {
        Response(id: r.id ?? .null, error: RPCError(.internalError, "the broker has stopped"))
    }
}
