/// Tags route tasks to nodes: a node carries tags (`zerotask node --tags gpu,eu`), a task may
/// require some (`tags: ["gpu"]`), and the broker gives it only to a node that has all of them.
///
/// A tag is an id (letters, digits, `.`, `_`, `-`, `:`, starting with a letter or digit), at
/// most 64 bytes; a list holds at most `maxCount`, and is kept sorted without repeats so two
/// lists naming the same tags are equal.
public enum Tags {
    public static let maxCount = 32
    public static let maxLength = 64

    /// Whether `s` may be a tag.
    public static func isValid(_ s: String) -> Bool { s.utf8.count <= maxLength && Identifier.isValidID(s) }

    /// Checks and normalizes a list (sorted, repeats dropped); `field` names the setting in errors.
    public static func normalized(_ list: [String], field: String) throws(PolicyError) -> [String] {
        for t in list where !isValid(t) {
            throw PolicyError(field, "holds \"\(t)\", which is not a tag (letters, digits, '.', '_', '-', ':', at most \(maxLength) bytes, starting with a letter or digit)")
        }
        let out = Array(Set(list)).sorted()
        guard out.count <= maxCount else { throw PolicyError(field, "names \(out.count) tags; at most \(maxCount)") }
        return out
    }

    /// Reads `gpu,eu` (commas, spaces around them ignored; empty: none).
    public static func parse(_ text: String, field: String) throws(PolicyError) -> [String] {
        let list = text.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        return try normalized(list, field: field)
    }

    /// Reads a JSON list of strings.
    public static func read(_ list: [JSONValue], field: String) throws(PolicyError) -> [String] {
        var out: [String] = []
        for (i, v) in list.enumerated() {
            guard let s = v.stringValue else { throw PolicyError("\(field)[\(i)]", "must be a string, not \(v.typeName)") }
            out.append(s)
        }
        return try normalized(out, field: field)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
