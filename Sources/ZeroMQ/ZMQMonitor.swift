import CZeroMQ

/// One event from a socket monitor (`zmq_socket_monitor`).
public struct ZMQMonitorEvent: Sendable, Equatable {
    /// `ZMQ_EVENT_…`.
    public var event: UInt16
    /// The event's value: for `handshakeFailedAuth`, the ZAP status code (e.g. 400).
    public var value: UInt32
    public var endpoint: String

    public static let connected = UInt16(ZMQ_EVENT_CONNECTED)
    public static let accepted = UInt16(ZMQ_EVENT_ACCEPTED)
    public static let disconnected = UInt16(ZMQ_EVENT_DISCONNECTED)
    public static let handshakeSucceeded = UInt16(ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    public static let handshakeFailedNoDetail = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    public static let handshakeFailedProtocol = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    public static let handshakeFailedAuth = UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

    /// Decodes a monitor message: a 6-byte frame (event, value, little-endian) and the endpoint.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let f = frames[0]
        event = UInt16(f[0]) | UInt16(f[1]) << 8
        value = UInt32(f[2]) | UInt32(f[3]) << 8 | UInt32(f[4]) << 16 | UInt32(f[5]) << 24
        endpoint = String(decoding: frames[1], as: UTF8.self)
    }
}

extension ZMQSocket {
    /// Publishes this socket's events on a PAIR endpoint (`inproc://…`); connect a `.pair`
    /// socket there and read `ZMQMonitorEvent`s from it.
    public func monitor(_ endpoint: String, events: Int32 = ZMQ_EVENT_ALL) throws(ZMQError) {
        guard zmq_socket_monitor(raw, endpoint, events) == 0 else { throw ZMQError("zmq_socket_monitor \(endpoint)") }
    }
}
