import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Bad input must not make the broker grow: a real `zerotask broker` process, its resident size
/// read from /proc before and after a flood of every kind of bad message.
@Suite struct BrokerMemoryTests {
    static func residentBytes(_ pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * 4096 : 0
    }

    static let badBodies: [[UInt8]] = [
        Array("{not json".utf8),
        Array("[]".utf8),
        Array("\"a string\"".utf8),
        Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.nope","id":1}"#.utf8),
        Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_new_task","params":["nobody","m",[]],"id":2}"#.utf8),
        Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.node_heartbeat","params":["ghost"],"id":3}"#.utf8),
        Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["bad id!"],"id":4}"#.utf8),
        Array(String(repeating: "[", count: 5000).utf8),
        Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.stats","id":""#.utf8) + [0xFF, 0xFE] + Array("\"}".utf8),
        Array("{\"jsonrpc\":\"2.0\",\"method\":\"zerotask.broker.stats\",\"params\":[\"\(String(repeating: "x", count: 2_000_000))\"],\"id\":5}".utf8),
    ]

    @Test func floodOfBadInputLeavesMemoryFlatAndTheBrokerServing() throws {
        // Ports the broker picks itself and reports: nothing can take them in between.
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--request", "tcp://127.0.0.1:*",
            "--publish", "tcp://127.0.0.1:*"])
        defer { broker.stop() }
        let request = try listeningEndpoints(of: broker).request
        let context = ZMQContext()
        let peer = try TestPeer(endpoint: request, context: context, .dealer)
        let up = try eventually(30) {
            _ = try peer.socket.send(Request(method: "zerotask.broker.stats", params: .none, id: 0).json.jsonBytes, dontWait: true)
            return (try? peer.receiveRaw(seconds: 0.5)) != nil || !broker.isRunning
        }
        guard up, broker.isRunning else {
            Issue.record("the broker did not start; its output:\n\(broker.output)")
            return
        }
        struct BrokerGone: Error {}
        /// Sends without ever blocking for good: a broker that died would leave a blocking send
        /// waiting forever for a peer.
        func send(_ frames: [[UInt8]]) throws {
            let deadline = Date().addingTimeInterval(30)
            while !(try peer.socket.send(frames: frames, dontWait: true)) {
                guard broker.isRunning, Date() < deadline else { throw BrokerGone() }
                while let f = try peer.socket.receiveFrames(dontWait: true) { _ = f }
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        func flood(_ rounds: Int) throws {
            for i in 0..<rounds {
                try send([Self.badBodies[i % Self.badBodies.count]])
                // Also vanish-style traffic: frames beyond the limit, and a REQ-style delimiter.
                if i % 50 == 0 { try send(Array(repeating: [1], count: 12)) }
                // Read replies as we go so our own queue stays small.
                while let frames = try peer.socket.receiveFrames(dontWait: true) { _ = frames }
            }
            while (try? peer.receiveRaw(seconds: 1)) != nil {}
        }
        // Warm up first: the allocator keeps pools (and large freed bodies) for reuse. After that,
        // more of the same must not add up: a leak grows with every round, pools do not.
        do {
            try flood(10_000)
        } catch {
            Issue.record("the broker died under the flood; its output:\n\(broker.output.suffix(4000))")
            return
        }
        let before = Self.residentBytes(broker.pid)
        do {
            for _ in 0..<3 { try flood(10_000) }
        } catch {
            Issue.record("the broker died under the flood; its output:\n\(broker.output.suffix(4000))")
            return
        }
        let after = Self.residentBytes(broker.pid)
        #expect(before > 0)
        #expect(after - before < 16 << 20, "resident size grew from \(before >> 20) MiB to \(after >> 20) MiB")
        // And it still answers a good request correctly.
        let good = try TestPeer(endpoint: request, context: context)
        #expect(try good.result("client_connect", ["still-here"]) == "still-here")
        #expect(broker.isRunning)
    }
}
