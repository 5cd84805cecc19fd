#if canImport(Glibc)
import Glibc
#endif
import Testing
import ZeroMQ

/// Multipart send and receive over real libzmq sockets.
@Suite struct ZMQSocketMessagesTests {
    @Test func reqRepMultipartRoundTrip() throws {
        let context = ZMQContext()
        let rep = try ZMQSocket(context, .rep)
        try rep.bind("inproc://reqrep")
        let req = try ZMQSocket(context, .req)
        try req.connect("inproc://reqrep")

        try req.send(frames: [bytes("first"), [], bytes("third")])
        // REP strips the envelope: the application sees exactly the frames sent.
        #expect(try rep.framesWithin() == [bytes("first"), [], bytes("third")])
        try rep.send(frames: [bytes("reply"), [0, 255, 1]])
        #expect(try req.framesWithin() == [bytes("reply"), [0, 255, 1]])

        // A second round trip on the same pair (REQ's strict alternation holds).
        try req.send(bytes("again"))
        #expect(try rep.framesWithin() == [bytes("again")])
        try rep.send(bytes("ok"))
        #expect(try req.framesWithin() == [bytes("ok")])
    }

    @Test func dealerRouterOverTCPKeepsTheEnvelope() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setRoutingID(bytes("peer-1"))
        try dealer.connect(router.lastEndpoint!)

        let big = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        try dealer.send(frames: [[], bytes("body"), big])
        let got = try router.framesWithin()
        #expect(got.count == 4)
        #expect(got.first == bytes("peer-1"))
        #expect(got[1] == [] && got[2] == bytes("body"))
        #expect(got[3] == big)

        try router.send(frames: [bytes("peer-1"), [], bytes("answer")])
        #expect(try dealer.framesWithin() == [[], bytes("answer")])
    }

    @Test func manyMessagesInFlightArriveInOrder() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("inproc://inflight")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect("inproc://inflight")
        for i in 0..<200 { try dealer.send(bytes("m\(i)")) }
        for i in 0..<200 {
            let f = try router.framesWithin()
            #expect(f.count == 2 && f[1] == bytes("m\(i)"))
            try router.send(frames: [f[0], f[1]])
        }
        for i in 0..<200 { #expect(try dealer.framesWithin() == [bytes("m\(i)")]) }
    }

    @Test func nonBlockingReceiveOnAnEmptySocketReturnsNil() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("inproc://empty")
        #expect(try router.receive(dontWait: true) == nil)
        #expect(try router.receiveFrames(dontWait: true) == nil)
    }

    @Test func nonBlockingSendReportsWouldBlock() throws {
        let context = ZMQContext()
        let dealer = try ZMQSocket(context, .dealer)
        // With IMMEDIATE and no completed connection there is nowhere to queue the message.
        try dealer.setImmediate(true)
        try dealer.connect("tcp://127.0.0.1:9")
        #expect(try dealer.send(bytes("x"), dontWait: true) == false)
        #expect(try dealer.send(frames: [bytes("a"), bytes("b")], dontWait: true) == false)
        dealer.close(lingerMilliseconds: 0)
    }

    @Test func tooManyFramesAreDrainedAndReported() throws {
        let context = ZMQContext()
        let pull = try ZMQSocket(context, .pull)
        try pull.bind("inproc://frames")
        let push = try ZMQSocket(context, .push)
        try push.connect("inproc://frames")

        try push.send(frames: (0..<10).map { bytes("f\($0)") })
        try push.send(frames: [bytes("next")])
        guard case .tooManyFrames(let n) = try pull.receiveWithin(maxFrames: 3) else {
            Issue.record("a 10-frame message came through a 3-frame limit")
            return
        }
        #expect(n == 10)
        // The whole over-long message was read: the next receive gets the next message.
        #expect(try pull.framesWithin() == [bytes("next")])
        // receiveFrames allows 1024 frames and throws beyond them, having drained the message.
        try push.send(frames: Array(repeating: [], count: 1025))
        try push.send(bytes("after"))
        var poller = ZMQPoller()
        poller.add(pull)
        #expect(try poller.poll(timeoutMilliseconds: 10_000)[0].contains(.readable))
        #expect {
            _ = try pull.receiveFrames(dontWait: true)
        } throws: { error in
            (error as? ZMQError)?.errno == EMSGSIZE
        }
        #expect(try pull.framesWithin() == [bytes("after")])
    }
}
