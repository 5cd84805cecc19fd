/// The protocol's rules for client, node and task ids and for method names.
public enum Identifier {
    /// `[A-Za-z0-9][A-Za-z0-9._:-]{0,127}`
    public static func isValidID(_ s: String) -> Bool {
        let u = s.utf8
        guard let first = u.first, u.count <= 128, isAlnum(first) else { return false }
        for c in u.dropFirst() where !(isAlnum(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
            || c == UInt8(ascii: ":") || c == UInt8(ascii: "-")) {
            return false
        }
        return true
    }

    /// `[A-Za-z_][A-Za-z0-9_.-]{0,127}`
    public static func isValidMethodName(_ s: String) -> Bool {
        let u = s.utf8
        guard let first = u.first, u.count <= 128, isAlpha(first) || first == UInt8(ascii: "_") else { return false }
        for c in u.dropFirst() where !(isAlnum(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
            || c == UInt8(ascii: "-")) {
            return false
        }
        return true
    }

    /// Method names under `zerotask.` belong to the system, not to plugins.
    public static func isReservedMethodName(_ s: String) -> Bool { s.hasPrefix("zerotask.") }

    @inline(__always) static func isAlpha(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (c >= 0x30 && c <= 0x39) }
}
