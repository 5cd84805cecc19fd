import Testing
import ZeroMQ

@Suite struct ZMQContextTests {
    @Test func versionIsLibzmq4() {
        let parts = ZMQContext.version.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 3)
        #expect(parts.first == 4)
    }

    @Test func manyContextsComeAndGo() throws {
        let done = outcome(within: 30) {
            for i in 0..<50 {
                let context = ZMQContext()
                let s = try ZMQSocket(context, .rep)
                try s.bind("inproc://ctx-\(i)")
                s.close()
            }
        }
        let finished = try #require(done, "context teardown hung")
        try finished.get()
    }
}
