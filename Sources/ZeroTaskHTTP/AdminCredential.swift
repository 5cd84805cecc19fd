import CSodium
import ZeroMQ

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

extension AdminCredential {
    /// What the token is derived for: another use of the same key would use another label.
    static let label = Array("zerotask dashboard admin token v1".utf8)

    /// The token of a broker whose CURVE secret key is `keys`: HMAC-SHA-256 of a fixed label
    /// under the 32-byte secret key, as 64 hex digits. Whoever can read the broker's key file
    /// can make it (`zerotask keys token`); nobody else can, and it needs no file of its own.
    public init(brokerKeys keys: CurveKeyPair) {
        var mac = [UInt8](repeating: 0, count: Int(crypto_auth_hmacsha256_BYTES))
        let key = Z85.decode(keys.secretKey) ?? []
        var state = crypto_auth_hmacsha256_state()
        _ = crypto_auth_hmacsha256_init(&state, key, key.count)
        _ = crypto_auth_hmacsha256_update(&state, Self.label, UInt64(Self.label.count))
        _ = crypto_auth_hmacsha256_final(&state, &mac)
        self.init(token: mac.map { String($0, radix: 16).leftPadded(2) }.joined())
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
