import CZeroMQ

/// A CURVE key pair as libzmq takes it: two 40-character Z85 strings (32 bytes each).
public struct CurveKeyPair: Sendable, Equatable {
    /// The public key (Z85); what peers are told and what the broker's key folders hold.
    public let publicKey: String
    /// The secret key (Z85); never leaves the process that owns it.
    public let secretKey: String

    /// A new random key pair from libzmq (libsodium).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: Z85.string(pub), secretKey: Z85.string(sec))
    }

    /// The pair of a secret key, its public half derived from it.
    /// - Throws: when `secretKey` is not a 40-character Z85 key.
    public init(secretKey: String) throws(ZMQError) {
        guard Z85.isKey(secretKey) else { throw ZMQError("curve secret key: not 40 Z85 characters", errno: EINVAL) }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { throw ZMQError("zmq_curve_public") }
        self.init(publicKey: Z85.string(pub), secretKey: secretKey)
    }

    init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// ZeroMQ's Z85 text encoding (RFC 32), as libzmq implements it.
public enum Z85 {
    /// Z85 text of `bytes`; nil unless the count is a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        guard zmq_z85_encode(&out, bytes, bytes.count) != nil else { return nil }
        return string(out)
    }

    /// The bytes of Z85 text; nil unless it is valid Z85 of a length that is a multiple of 5.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0, utf8.allSatisfy(isZ85) else { return nil }
        var out = [UInt8](repeating: 0, count: utf8.count * 4 / 5)
        guard zmq_z85_decode(&out, text) != nil else { return nil }
        return out
    }

    /// Whether `text` is a CURVE key in Z85: 40 characters of the Z85 alphabet.
    public static func isKey(_ text: String) -> Bool {
        let utf8 = text.utf8
        return utf8.count == 40 && utf8.allSatisfy(isZ85)
    }

    private static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    private static func isZ85(_ c: UInt8) -> Bool { alphabet.contains(c) }

    static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
