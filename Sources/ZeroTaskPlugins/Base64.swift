/// Standard base64 (RFC 4648 §4) for `bytes` params and results.
///
/// Decoding is strict about the alphabet (no whitespace, no URL-safe letters) so that a typo is
/// reported rather than silently dropped; padding is optional.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// 255 marks a byte outside the alphabet.
    private static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 255, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Why a string is not base64, with the character offset of the fault.
    public struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var offset: Int
        public var description: String { "\(reason) at character \(offset)" }

        public init(reason: String, offset: Int) {
            self.reason = reason
            self.offset = offset
        }
    }

    /// Encodes with `=` padding.
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(rest == 2 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func encode(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { encode($0) } }

    /// Decodes `text`, appending the bytes to `out` (so a caller can decode into a shared arena).
    public static func decode(_ text: String, appendingTo out: inout [UInt8]) throws(DecodingError) {
        var text = text
        let start = out.count
        // withUTF8 does not forward typed throws, so the closure hands its error out instead.
        let failure: DecodingError? = text.withUTF8 { (u: UnsafeBufferPointer<UInt8>) -> DecodingError? in
            var end = u.count
            var padding = 0
            while end > 0 && u[end - 1] == UInt8(ascii: "=") && padding < 2 {
                end -= 1
                padding += 1
            }
            out.reserveCapacity(out.count + end / 4 * 3 + 2)
            var acc: UInt32 = 0
            var bits = 0
            for i in 0..<end {
                let v = decodeTable[Int(u[i])]
                if v == 255 {
                    let what = u[i] == UInt8(ascii: "=") ? "misplaced '='" : "invalid base64 character"
                    return DecodingError(reason: what, offset: i)
                }
                acc = acc << 6 | UInt32(v)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                }
            }
            // Length is checked after the alphabet, so a stray character is reported where it is.
            if padding > 0 && u.count % 4 != 0 {
                return DecodingError(reason: "padding does not complete a group of 4", offset: end)
            }
            if end % 4 == 1 { return DecodingError(reason: "truncated input", offset: end) }
            return nil
        }
        if let failure {
            out.removeSubrange(start...)
            throw failure
        }
    }

    public static func decode(_ text: String) throws(DecodingError) -> [UInt8] {
        var out: [UInt8] = []
        try decode(text, appendingTo: &out)
        return out
    }
}
