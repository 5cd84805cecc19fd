import FlyingFox

/// The token the dashboard and its actions need when security is on (`zerotask keys token`
/// prints it). A request carries it as `Authorization: Bearer TOKEN`, as the `zerotask_token`
/// cookie (set when the page is opened with `?token=TOKEN`), or as `?token=TOKEN` itself.
public struct AdminCredential: Sendable {
    public let token: String

    public init(token: String) { self.token = token }

    /// The cookie that carries it; `SameSite=Strict`, so another site's page cannot make the
    /// browser send it (no cross-site retries), and `HttpOnly`, so no script reads it.
    static let cookieName = "zerotask_token"

    /// The token a request carries, wherever it carries it.
    static func presented(by request: HTTPRequest) -> String? {
        if let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") { return String(auth.dropFirst(7)) }
        if let q = request.query["token"] { return q }
        for part in (request.headers[.cookie] ?? "").split(separator: ";") {
            let kv = part.trimmingPrefix(" ").split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0] == cookieName { return String(kv[1]) }
        }
        return nil
    }

    /// Whether the request carries this token (compared in constant time).
    func admits(_ request: HTTPRequest) -> Bool {
        guard let given = Self.presented(by: request) else { return false }
        let a = Array(given.utf8), b = Array(token.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }

    var setCookie: String { "\(Self.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict" }
}
