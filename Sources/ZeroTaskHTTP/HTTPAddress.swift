/// Where the broker's HTTP server listens: `http://HOST:PORT` with an IPv4 address (or
/// `localhost`, or `*` for every interface), as `broker.http` and `--http` give it.
public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    /// The IPv4 address to bind (dotted quad; 0.0.0.0 for every interface).
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// The default, loopback only (DESIGN.md, Security).
    public static let `default` = HTTPAddress(host: "127.0.0.1", port: 5580)

    /// Parses `http://HOST:PORT`; `setting` names the setting or flag in the error.
    public init(parsing text: String, setting: String) throws(HTTPAddressError) {
        let prefix = "http://"
        guard text.hasPrefix(prefix) else { throw HTTPAddressError(setting: setting, value: text, why: "it must start with http://") }
        let rest = text.dropFirst(prefix.count).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
            throw HTTPAddressError(setting: setting, value: text, why: "it needs a port from 0 to 65535 (http://HOST:PORT)")
        }
        let name = String(rest[..<colon])
        switch name {
        case "localhost": host = "127.0.0.1"
        case "*": host = "0.0.0.0"
        case let ip where Self.isIPv4(ip): host = ip
        default: throw HTTPAddressError(setting: setting, value: text, why: "the host must be an IPv4 address, localhost or *")
        }
        self.port = port
    }

    private static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { $0.count <= 3 && UInt8($0) != nil }
    }

    public var description: String { "http://\(host):\(port)" }
}

/// A `broker.http` or `--http` value that is not `http://HOST:PORT`.
public struct HTTPAddressError: Error, CustomStringConvertible {
    public var setting: String
    public var value: String
    public var why: String
    public var description: String { "\(setting) must be off or http://HOST:PORT, not \"\(value)\": \(why)" }
}
