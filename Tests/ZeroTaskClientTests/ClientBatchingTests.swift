import Foundation
import Synchronization
import Testing
import ZeroMQ
import ZeroTaskClient
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// Which requests the client lets share a JSON-RPC batch, seen on the wire: a ROUTER on loopback
/// records every message the real client sends and answers it as a broker would.
@Suite(.timeLimit(.minutes(10))) struct ClientBatchingTests {
    /// Answers `client_connect` with the id asked for, `client_wait_results` with every task
    /// finished, anything else with `{}`; remembers each message as the requests it carried.
    final class RecordingBroker: @unchecked Sendable {
        struct Message: Sendable {
            var batch: Bool
            var requests: [JSONValue]
        }

        let endpoint: String
        let messages = Mutex<[Message]>([])
        private let socket: ZMQSocket
        private let stop = Atomic<Bool>(false)
        private let finished = DispatchSemaphore(value: 0)

        init() throws {
            socket = try ZMQSocket(ZMQContext(), .router)
            try socket.setLinger(milliseconds: 0)
            try socket.bind("tcp://127.0.0.1:*")
            endpoint = socket.lastEndpoint ?? ""
            Thread { [self] in serve() }.start()
        }

        private func serve() {
            defer { finished.signal() }
            var poller = ZMQPoller()
            poller.add(socket)
            while !stop.load(ordering: .acquiring) {
                guard (try? poller.poll(timeoutMilliseconds: 20))?[0].contains(.readable) == true,
                    let frames = try? socket.receiveFrames(dontWait: true), frames.count >= 2,
                    let body = try? JSONValue.parse(frames.last!)
                else { continue }
                let requests = body.arrayValue ?? [body]
                messages.withLock { $0.append(Message(batch: body.arrayValue != nil, requests: requests)) }
                let answers = requests.map(Self.answer)
                let reply: JSONValue = body.arrayValue != nil ? .array(answers) : answers[0]
                _ = try? socket.send(frames: Array(frames.dropLast()) + [reply.jsonBytes])
            }
        }

        static func answer(_ request: JSONValue) -> JSONValue {
            let method = request["method"]?.stringValue ?? ""
            let params = request["params"]?.arrayValue ?? []
            let result: JSONValue
            switch method {
            case "zerotask.broker.client_connect":
                result = params.first ?? "recorded"
            case "zerotask.broker.client_wait_results":
                let ids = params.count > 1 ? params[1].arrayValue ?? [] : []
                result = .array(ids.map { ["task_id": $0, "status": .int(TaskStatus.finished.rawValue), "result": 1] })
            default:
                result = .object([:])
            }
            return ["jsonrpc": "2.0", "result": result, "id": request["id"] ?? .null]
        }

        /// Whether a request asks the broker to hold it: a `wait` above zero.
        static func isHeld(_ request: JSONValue) -> Bool {
            let params = request["params"]
            let wait = params?["wait"] ?? (params?.arrayValue).flatMap { $0.count > 2 ? $0[2] : nil }
            return (wait?.doubleValue ?? 0) > 0
        }

        func close() {
            stop.store(true, ordering: .releasing)
            finished.wait()
            socket.close(lingerMilliseconds: 0)
        }
    }

    /// Many calls at once pile up into batches, but a long poll (`client_wait_results` with a
    /// wait) always travels alone: inside a batch the broker would answer it at once.
    @Test func aHeldRequestNeverRidesInABatch() async throws {
        let broker = try RecordingBroker()
        defer { broker.close() }
        let client = try await ZeroTaskClient(request: broker.endpoint, clientID: "batcher")
        for round in 0..<20 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        if i == 20 {
                            #expect(try await client.task("batcher-r\(round)").wait(timeout: .seconds(30)) == 1)
                        } else {
                            _ = try await client.stats()
                        }
                    }
                }
                try await group.waitForAll()
            }
            if broker.messages.withLock({ m in m.contains { $0.batch } && m.contains { $0.requests.contains(where: RecordingBroker.isHeld) } }) {
                break
            }
        }
        await client.close()
        let messages = broker.messages.withLock { $0 }
        // The preconditions: calls did share batches, and long polls were sent.
        #expect(messages.contains { $0.batch }, "no batch was ever sent")
        #expect(messages.contains { $0.requests.contains(where: RecordingBroker.isHeld) }, "no long poll was sent")
        let held = messages.filter { $0.batch && $0.requests.contains(where: RecordingBroker.isHeld) }
        #expect(held.isEmpty, "long polls inside batches: \(held.map { $0.requests.map { $0["method"]?.stringValue ?? "?" } })")
    }
}
