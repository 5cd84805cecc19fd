/// A failover list of broker request endpoints, as `--broker`, `ZEROTASK_BROKER` and the
/// configuration's `broker` settings write it: `tcp://a:5555,tcp://b:5555`.
///
/// Nodes, clients and the CLI read the list the same way: they talk to one broker at a time,
/// starting with the first, and move to the next (round robin) when the current one stops
/// answering. A single endpoint is a list of one: no failover.
public struct BrokerEndpoints: Sendable, Equatable, CustomStringConvertible {
    /// The request endpoints, in the order they are tried; never empty.
    public let endpoints: [String]

    /// Why a list was refused: the entry, where it is in the list, and how to write it.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        /// The entry as written (empty for an empty entry).
        public let entry: String
        /// Its position in the list, from 1.
        public let position: Int
        /// What is wrong with it.
        public let reason: String

        public init(entry: String, position: Int, reason: String) {
            self.entry = entry
            self.position = position
            self.reason = reason
        }

        public var description: String {
            "broker endpoint \(position) \"\(entry)\" \(reason); write each as tcp://HOST:PORT (or ipc://PATH, inproc://NAME), separated by commas"
        }
    }

    /// The endpoints of a list; each is checked.
    /// - Throws: `Problem` naming the first entry that is not a ZeroMQ endpoint a client can connect to.
    public init(_ endpoints: [String]) throws(Problem) {
        var out: [String] = []
        for (i, raw) in endpoints.enumerated() {
            let entry = raw.trimmingSpaces
            if let reason = Self.problem(entry) { throw Problem(entry: entry, position: i + 1, reason: reason) }
            out.append(entry)
        }
        guard !out.isEmpty else { throw Problem(entry: "", position: 1, reason: "is empty") }
        self.endpoints = out
    }

    /// A comma-separated list, spaces around entries allowed.
    public init(parsing text: String) throws(Problem) {
        try self.init(text.split(separator: ",", omittingEmptySubsequences: false).map(String.init))
    }

    /// The first endpoint (where a node or client starts).
    public var first: String { endpoints[0] }

    /// How many endpoints the list holds.
    public var count: Int { endpoints.count }

    /// Whether there is another broker to move to.
    public var failsOver: Bool { endpoints.count > 1 }

    /// The endpoint at `index`, taken round robin (any index is valid).
    public subscript(index: Int) -> String { endpoints[((index % count) + count) % count] }

    /// The index after `index`, wrapping around to the first.
    public func next(after index: Int) -> Int { (index + 1) % count }

    /// The list as it is written: endpoints separated by commas.
    public var description: String { endpoints.joined(separator: ",") }

    /// Why `entry` is no endpoint to connect to; nil when it is one.
    static func problem(_ entry: String) -> String? {
        if entry.isEmpty { return "is empty" }
        let parts = entry.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return "has no transport" }
        let scheme = parts[0]
        let address = parts[1]
        switch scheme {
        case "tcp":
            guard let colon = address.lastIndex(of: ":") else { return "has no port" }
            let host = address[..<colon]
            let port = address[address.index(after: colon)...]
            if host.isEmpty { return "has no host" }
            if host == "*" { return "names no host (\"*\" is for binding)" }
            guard let p = Int(port), p > 0, p <= 65535 else { return "has no valid port (1-65535)" }
            if host.contains(where: { $0 == " " || $0 == "/" }) { return "has an invalid host" }
            return nil
        case "ipc", "inproc":
            return address.isEmpty ? "has no address" : nil
        default:
            return "has transport \"\(scheme)\" (tcp, ipc or inproc)"
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
