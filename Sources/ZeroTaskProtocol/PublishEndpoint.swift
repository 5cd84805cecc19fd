/// Where a broker publishes notifications when nobody says: beside its request endpoint.
public enum PublishEndpoint {
    /// `tcp://HOST:PORT` → `tcp://HOST:PORT+1`; nil for other transports or no port to add to.
    /// Node, client and CLI all derive the default this one way.
    public static func derived(fromRequest request: String) -> String? {
        guard request.hasPrefix("tcp://"), let colon = request.lastIndex(of: ":"),
            let port = Int(request[request.index(after: colon)...]), port > 0, port < 65535
        else { return nil }
        return "\(request[..<colon]):\(port + 1)"
    }
}
