import Testing
import ZeroMQ

@Suite struct ZMQContextTests {
    @Test func versionIsLibzmq4() {
        let parts = ZMQContext.version.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count == 3)
        #expect(parts.first == 4)
    }

    @Test func manyContextsComeAndGo() {
        let finished = returns(within: 30) {
            for i in 0..<50 {
                let context = ZMQContext()
                do {
                    let s = try ZMQSocket(context, .rep)
                    try s.bind("inproc://ctx-\(i)")
                    s.close()
                } catch {
                    Issue.record("\(error)")
                }
            }
        }
        #expect(finished, "context teardown hung")
    }
}
