import Synchronization
import Testing
import ZeroTaskTestSupport
import ZeroTaskProtocol
@testable import ZeroTaskClient

/// The I/O thread's bookkeeping of requests: send order, replies by id, cancels, deadlines.
@Suite struct PendingRequestsTests {
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ s: String) { entries.withLock { $0.append(s) } }
        var all: [String] { entries.withLock { $0 } }
    }

    func request(_ id: Int64, deadline: MonotonicInstant, _ log: Log) -> OutgoingRequest {
        OutgoingRequest(id: id, body: [], deadline: deadline) { outcome in
            switch outcome {
            case .response: log.add("\(id) answered")
            case .noAnswer: log.add("\(id) no answer")
            case .cancelled: log.add("\(id) cancelled")
            case .closed: log.add("\(id) closed")
            }
        }
    }

    @Test func requestsAreSentInOrderAndMatchedByID() {
        let log = Log()
        var p = PendingRequests()
        #expect(p.add(request(1, deadline: 10, log)) && p.add(request(2, deadline: 10, log)))
        #expect(p.nextUnsent?.id == 1)
        p.markNextSent()
        #expect(p.nextUnsent?.id == 2)
        p.markNextSent()
        #expect(!p.hasUnsent && p.inFlightCount == 2)
        #expect(p.takeReplied(2)?.id == 2)
        #expect(p.takeReplied(2) == nil)  // a duplicate or late reply matches nothing
        #expect(p.inFlightCount == 1)
    }

    @Test func queuedRequestsShareABatchUntilALongPoll() {
        let log = Log()
        var p = PendingRequests()
        for id: Int64 in 1...5 {
            var r = OutgoingRequest(id: id, body: Array(repeating: 0x20, count: 10), deadline: 10) { _ in log.add("\(id)") }
            r.batchable = id != 4  // a long poll travels alone
            let added = p.add(r)
            #expect(added)
        }
        #expect(p.nextBatch(limit: 10, maxBytes: 1000).map(\.id) == [1, 2, 3])
        #expect(p.nextBatch(limit: 2, maxBytes: 1000).map(\.id) == [1, 2])
        #expect(p.nextBatch(limit: 10, maxBytes: 25).map(\.id) == [1, 2])
        for _ in 0..<3 { p.markNextSent() }
        #expect(p.nextBatch(limit: 10, maxBytes: 1000).isEmpty)  // the long poll is next
        p.markNextSent()
        #expect(p.nextBatch(limit: 10, maxBytes: 1000).map(\.id) == [5])
    }

    @Test func deadlinesExpireUnsentAndInFlightRequests() {
        let log = Log()
        var p = PendingRequests()
        _ = p.add(request(1, deadline: 5, log))
        p.markNextSent()
        _ = p.add(request(2, deadline: 5, log))  // never sent: no broker connection
        _ = p.add(request(3, deadline: 50, log))
        #expect(p.expire(now: 4).isEmpty)
        let expired = p.expire(now: 6).map(\.id).sorted()
        #expect(expired == [1, 2])
        #expect(p.nextUnsent?.id == 3)
    }

    @Test func aCancelThatOvertakesItsRequestStillCancelsIt() {
        let log = Log()
        var p = PendingRequests()
        #expect(p.cancel(7) == nil)
        #expect(p.add(request(7, deadline: 10, log)) == false)
        _ = p.add(request(8, deadline: 10, log))
        #expect(p.cancel(8)?.id == 8)
        #expect(p.isEmpty)
    }

    @Test func removeAllHandsBackEverything() {
        let log = Log()
        var p = PendingRequests()
        _ = p.add(request(1, deadline: 10, log))
        p.markNextSent()
        _ = p.add(request(2, deadline: 10, log))
        #expect(p.removeAll().map(\.id).sorted() == [1, 2])
        #expect(p.isEmpty)
    }
}
