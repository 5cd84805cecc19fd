import Foundation

/// What a CURVE client socket needs: the server's public key and the client's own key pair.
///
/// Every socket that connects to a broker with keys (a node's request and subscribe sockets,
/// the Swift client, the CLI) takes one of these; nil means plain (NULL) connections.
public struct CurveClientKeys: Sendable, Equatable {
    /// The server's (broker's) public key, Z85.
    public let serverKey: String
    /// This peer's own key pair; its public key must be in the broker's keys folder.
    public let keys: CurveKeyPair

    /// - Throws: when `serverKey` is not 40 Z85 characters.
    public init(serverKey: String, keys: CurveKeyPair) throws(ZMQError) {
        guard Z85.isKey(serverKey) else { throw ZMQError("curve server key: not 40 Z85 characters", errno: EINVAL) }
        self.init(checked: serverKey, keys: keys)
    }

    /// The keys two settings name, each of which may be unset (nil or empty): nil when both are.
    /// - Parameter names: what the caller calls the two settings, for errors.
    /// - Throws: `CurveKeyFile.Problem` naming the unset setting when only one is set, or the
    ///   file and the cause when a key file cannot be used.
    public static func configured(serverKey: String?, secretKeyFile: String?,
                                  names: (serverKey: String, secretKeyFile: String)) throws(CurveKeyFile.Problem) -> CurveClientKeys? {
        switch (serverKey.flatMap { $0.isEmpty ? nil : $0 }, secretKeyFile.flatMap { $0.isEmpty ? nil : $0 }) {
        case (nil, nil):
            return nil
        case (let server?, let secret?):
            return try CurveClientKeys(serverKey: server, secretKeyFile: secret)
        case (nil, _):
            throw CurveKeyFile.Problem(path: names.serverKey, reason: "not set, but \(names.secretKeyFile) is: CURVE needs the broker's public key too")
        case (_, nil):
            throw CurveKeyFile.Problem(path: names.secretKeyFile, reason: "not set, but \(names.serverKey) is: CURVE needs this process's own key file too")
        }
    }

    private init(checked serverKey: String, keys: CurveKeyPair) {
        self.serverKey = serverKey
        self.keys = keys
    }

    /// The keys from files as `zerotask keys generate` writes them.
    ///
    /// - Parameters:
    ///   - serverKey: the server's public key: a file (`broker.pub`, or a `.key` whose public half
    ///     is taken), else the key itself as 40 Z85 characters.
    ///   - secretKeyFile: this peer's own `NAME.key`.
    /// - Throws: `CurveKeyFile.Problem` naming the file (or the setting's text) and the cause.
    public init(serverKey: String, secretKeyFile: String) throws(CurveKeyFile.Problem) {
        let server: String
        if FileManager.default.fileExists(atPath: serverKey) || !Z85.isKey(serverKey) {
            server = try CurveKeyFile.readPublic(serverKey)
        } else {
            server = serverKey
        }
        self.init(checked: server, keys: try CurveKeyFile.readSecret(secretKeyFile))
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE client with `curve`; leaves it plain when `curve` is nil.
    /// Set before `connect`.
    public func secure(with curve: CurveClientKeys?) throws(ZMQError) {
        guard let curve else { return }
        try makeCurveClient(serverKey: curve.serverKey, keys: curve.keys)
    }
}
