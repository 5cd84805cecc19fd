import Testing
import ZeroMQ

/// The pipe other threads use to wake a poll loop.
@Suite struct WakePipeTests {
    @Test func signalWakesAPollerAndDrainEmptiesIt() throws {
        let wake = WakePipe()
        var poller = ZMQPoller()
        poller.add(fd: wake.readFD)
        #expect(try poller.poll(timeoutMilliseconds: 0) == [[]])
        for _ in 0..<3 { wake.signal() }
        #expect(try poller.poll(timeoutMilliseconds: 10_000) == [.readable])
        #expect(wake.drain())
        #expect(try poller.poll(timeoutMilliseconds: 0) == [[]])
        #expect(!wake.drain())
    }
}
