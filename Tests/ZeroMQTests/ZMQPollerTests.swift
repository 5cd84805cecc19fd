#if canImport(Glibc)
import Glibc
#endif
import Testing
import ZeroMQ

/// zmq_poll over sockets and plain descriptors.
@Suite struct ZMQPollerTests {
    @Test func pollTimesOutWithNothingReady() throws {
        let context = ZMQContext()
        let a = try ZMQSocket(context, .pull)
        try a.bind("inproc://idle-a")
        let b = try ZMQSocket(context, .pull)
        try b.bind("inproc://idle-b")
        var poller = ZMQPoller()
        #expect(poller.add(a) == 0)
        #expect(poller.add(b) == 1)
        let ready = try poller.poll(timeoutMilliseconds: 20)
        #expect(ready.count == 2)
        #expect(ready.allSatisfy { $0.isEmpty })
        #expect(try poller.poll(timeoutMilliseconds: 0).allSatisfy { $0.isEmpty })
    }

    @Test func pollReportsWhichSocketIsReadable() throws {
        let context = ZMQContext()
        let a = try ZMQSocket(context, .pull)
        try a.bind("inproc://which-a")
        let b = try ZMQSocket(context, .pull)
        try b.bind("inproc://which-b")
        let push = try ZMQSocket(context, .push)
        try push.connect("inproc://which-b")
        try push.send(bytes("x"))
        var poller = ZMQPoller()
        poller.add(a)
        poller.add(b)
        let ready = try poller.poll(timeoutMilliseconds: 10_000)
        #expect(ready[0].isEmpty)
        #expect(ready[1] == .readable)
    }

    @Test func writableEventsAndPlainDescriptors() throws {
        let context = ZMQContext()
        let router = try ZMQSocket(context, .router)
        try router.bind("inproc://writable")
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var poller = ZMQPoller()
        poller.add(router, .writable)
        let pipeIndex = poller.add(fd: fds[0])
        var ready = try poller.poll(timeoutMilliseconds: 0)
        #expect(ready[0].contains(.writable))  // a ROUTER can always send (unroutable messages are dropped)
        #expect(ready[pipeIndex].isEmpty)
        #expect(write(fds[1], "x", 1) == 1)
        ready = try poller.poll(timeoutMilliseconds: 10_000)
        #expect(ready[pipeIndex] == .readable)
        poller.removeAll()
        #expect(try poller.poll(timeoutMilliseconds: 0).isEmpty)
    }
}
