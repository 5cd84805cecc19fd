import Testing
import ZeroTaskProtocol

@Suite struct BrokerEndpointsTests {
    @Test func aCommaListReadsInOrderAndWrapsRoundRobin() throws {
        let list = try BrokerEndpoints(parsing: "tcp://a:5555, tcp://b:6000 ,ipc:///tmp/zt")
        #expect(list.endpoints == ["tcp://a:5555", "tcp://b:6000", "ipc:///tmp/zt"])
        #expect(list.first == "tcp://a:5555" && list.failsOver && list.count == 3)
        #expect(list.next(after: 0) == 1 && list.next(after: 2) == 0)
        #expect(list[3] == "tcp://a:5555")
        #expect(list.description == "tcp://a:5555,tcp://b:6000,ipc:///tmp/zt")
        let one = try BrokerEndpoints(parsing: "tcp://127.0.0.1:5555")
        #expect(!one.failsOver && one.next(after: 0) == 0)
    }

    @Test func aMalformedEntryIsNamedWithItsPosition() {
        func problem(_ text: String) -> BrokerEndpoints.Problem? {
            do {
                _ = try BrokerEndpoints(parsing: text)
                return nil
            } catch {
                return error
            }
        }
        #expect(problem("tcp://a:5555,b:5555") == .init(entry: "b:5555", position: 2, reason: "has no transport"))
        #expect(problem("tcp://a:5555,,tcp://c:1")?.position == 2)
        #expect(problem("tcp://a:5555,,tcp://c:1")?.reason == "is empty")
        #expect(problem("tcp://a")?.reason == "has no port")
        #expect(problem("tcp://a:0")?.reason == "has no valid port (1-65535)")
        #expect(problem("tcp://a:99999")?.reason == "has no valid port (1-65535)")
        #expect(problem("tcp://*:5555")?.reason.contains("binding") == true)
        #expect(problem("udp://a:5555")?.reason == "has transport \"udp\" (tcp, ipc or inproc)")
        #expect(problem("") != nil)
        let text = problem("tcp://a:5555,tcp//b:5555")?.description ?? ""
        #expect(text.contains("broker endpoint 2 \"tcp//b:5555\" has no transport"))
        #expect(text.contains("tcp://HOST:PORT"))
    }
}
