#if canImport(Glibc)
import Glibc
#endif
import CZeroMQ
import Testing
import ZeroMQ

/// Binding, connecting, endpoints, options and closing.
@Suite struct ZMQSocketTests {
    @Test func lastEndpointResolvesAWildcardPort() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(router.lastEndpoint)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.dropFirst("tcp://127.0.0.1:".count))
        #expect(port != nil && port! > 0 && port! < 65536)
        // The resolved endpoint is one a peer can use.
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect(endpoint)
        try dealer.send(bytes("hi"))
        #expect(try router.framesWithin().last == bytes("hi"))
    }

    @Test func lastEndpointBeforeAnyBindIsEmpty() throws {
        let socket = try ZMQSocket(ZMQContext(), .router)
        #expect(socket.lastEndpoint == "")
    }

    @Test func bindingATakenPortThrowsAnErrorNamingTheEndpoint() throws {
        let context = ZMQContext()
        let first = try ZMQSocket(context, .router)
        try first.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(first.lastEndpoint)
        let second = try ZMQSocket(context, .router)
        do {
            try second.bind(endpoint)
            Issue.record("a second bind on \(endpoint) succeeded")
        } catch {
            #expect(error.errno == EADDRINUSE)
            #expect(error.operation == "bind \(endpoint)")
            #expect(error.description.contains(endpoint))
            #expect(error.description.contains(error.message))
            #expect(!error.wouldBlock && !error.isTerminated)
        }
    }

    @Test func malformedEndpointsThrow() throws {
        let socket = try ZMQSocket(ZMQContext(), .dealer)
        #expect(throws: ZMQError.self) { try socket.bind("nonsense://x") }
        #expect(throws: ZMQError.self) { try socket.connect("tcp://") }
        #expect(throws: ZMQError.self) { try socket.disconnect("tcp://127.0.0.1:1") }  // never connected
    }

    @Test func optionsAreApplied() throws {
        let socket = try ZMQSocket(ZMQContext(), .dealer)
        // The wrapper's default: a bounded linger, never forever (-1) nor dropping replies (0).
        #expect(try socket.getInt32(ZMQ_LINGER) == 1000)
        try socket.setLinger(milliseconds: 250)
        #expect(try socket.getInt32(ZMQ_LINGER) == 250)
        try socket.setHighWaterMarks(send: 123, receive: 456)
        #expect(try socket.getInt32(ZMQ_SNDHWM) == 123)
        #expect(try socket.getInt32(ZMQ_RCVHWM) == 456)
        try socket.setImmediate(true)
        #expect(try socket.getInt32(ZMQ_IMMEDIATE) == 1)
        #expect(throws: ZMQError.self) { try socket.setOption(-12345, Int32(1)) }
    }

    @Test func closingTwiceIsHarmless() throws {
        let socket = try ZMQSocket(ZMQContext(), .req)
        #expect(!socket.isClosed)
        socket.close()
        socket.close(lingerMilliseconds: 0)
        #expect(socket.isClosed)
    }

    @Test func closeWithQueuedMessagesAndLingerDoesNotHang() throws {
        // A DEALER connected to nobody queues what it sends; closing it with the default bounded
        // linger, then releasing the context, must return (zmq_ctx_term waits for the linger).
        let done = outcome(within: 30) {
            let context = ZMQContext()
            let dealer = try ZMQSocket(context, .dealer)
            try dealer.connect("tcp://127.0.0.1:9")
            for _ in 0..<100 { try dealer.send(bytes("lost"), dontWait: true) }
            dealer.close()
        }
        let finished = try #require(done, "closing a socket with queued messages hung")
        try finished.get()
    }

    @Test func socketsKeepTheirContextAlive() throws {
        // Release order under ARC is not declaration order: a socket outliving its context's
        // last other reference must still work, and tearing both down must not hang.
        let done = outcome(within: 30) {
            var context: ZMQContext? = ZMQContext()
            let pull = try ZMQSocket(context!, .pull)
            let push = try ZMQSocket(context!, .push)
            context = nil
            try pull.bind("inproc://outlive")
            try push.connect("inproc://outlive")
            try push.send(bytes("still alive"))
            return try pull.framesWithin()
        }
        let received = try #require(done, "context teardown hung")
        #expect(try received.get() == [bytes("still alive")])
    }
}
