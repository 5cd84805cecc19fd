import CZeroMQ
import Foundation
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// PROTOCOL.md: replies to a saturated peer are dropped, never waited for.
@Suite struct BrokerSaturatedPeerTests {
    @Test func aPeerThatNeverReadsLosesRepliesAndStallsNobody() throws {
        let broker = try TestBroker()
        // A DEALER that sends a flood of requests and reads none of the replies (it holds one).
        let flood = try ZMQSocket(broker.context, .dealer)
        defer { flood.close(lingerMilliseconds: 0) }
        try flood.setHighWaterMarks(send: 0, receive: 1)
        try flood.setOption(ZMQ_RCVBUF, Int32(4096))
        try flood.connect(broker.request)
        let n = 300_000
        for i in 0..<n {
            // An unknown method: the cheapest request that gets a reply.
            try flood.send(Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.nope","id":\#(i)}"#.utf8))
        }
        // Everyone else is still served while the broker works through the flood and beyond it.
        let other = try broker.peer()
        var seen = 0
        #expect(eventually(120) {
            seen = (try? other.result("stats")["requests_total"]?.int64Value).flatMap { Int($0) } ?? 0
            return seen > n
        }, "the broker handled \(seen) requests")
        // The flood's replies beyond what its pipe and buffers hold were dropped.
        var received = 0
        var poller = ZMQPoller()
        poller.add(flood)
        // Read until a second passes with nothing more (the broker is done: see above).
        while try poller.poll(timeoutMilliseconds: 1000)[0].contains(.readable) {
            while try flood.receive(dontWait: true) != nil { received += 1 }
        }
        #expect(received < n, "the saturated peer got all \(received) replies")
        #expect(received > 0)
    }
}
