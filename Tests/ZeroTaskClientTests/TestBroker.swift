import Foundation
import ZeroMQ
import ZeroTaskBroker

/// A real broker in this process, on loopback ports (ephemeral unless given).
final class TestBroker: @unchecked Sendable {
    let service: BrokerService
    var request: String { service.boundRequestEndpoint }
    var publish: String { service.boundPublishEndpoint }

    init(request: String = "tcp://127.0.0.1:*", publish: String = "tcp://127.0.0.1:*") throws {
        service = BrokerService(request: request, publish: publish)
        // A port just released by a stopped broker may take a moment to bind again.
        var attempt = 0
        while true {
            do {
                try service.start()
                return
            } catch {
                attempt += 1
                if attempt >= 50 { throw error }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
    }

    func stop() { service.stop() }

    deinit { service.stop() }
}

/// A loopback endpoint whose port nothing listens on (bound once, then released).
func unusedEndpoint() throws -> String {
    let context = ZMQContext()
    let s = try ZMQSocket(context, .router)
    try s.bind("tcp://127.0.0.1:*")
    let endpoint = s.lastEndpoint ?? "tcp://127.0.0.1:1"
    s.close(lingerMilliseconds: 0)
    return endpoint
}

/// A ROUTER that takes every request and never answers: a broker that hangs.
final class SilentBroker: @unchecked Sendable {
    let socket: ZMQSocket
    let endpoint: String

    init() throws {
        socket = try ZMQSocket(ZMQContext(), .router)
        try socket.setLinger(milliseconds: 0)
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = socket.lastEndpoint ?? ""
    }

    deinit { socket.close(lingerMilliseconds: 0) }
}
