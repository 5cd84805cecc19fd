import ZeroTaskProtocol

/// Matches a call's params, by position or by name, to the names a manifest declares: the one
/// place the count, unexpected and missing params are checked (and worded) for every method.
enum ParamMatch {
    /// Calls `body(i, value)` for each declared param in order, with the value the call gives it.
    /// - Throws: -32602 naming what does not fit: a wrong count, an unexpected or a missing name.
    @inline(__always)
    static func forEach(_ params: Params, names: [String], method: String, listing: String,
                        _ body: (Int, JSONValue) throws(RPCError) -> Void) throws(RPCError) {
        switch params {
        case .positional(let values):
            guard values.count == names.count else {
                throw .invalidParams("\(method): expected \(names.count) param\(names.count == 1 ? "" : "s") \(listing), got \(values.count)")
            }
            for i in 0..<values.count { try body(i, values[i]) }
        case .named(let object):
            for key in object.keys where !names.contains(key) {
                throw .invalidParams("\(method): unexpected param \"\(key)\"; it takes \(listing)")
            }
            for i in 0..<names.count {
                guard let v = object[names[i]] else { throw .invalidParams("\(method): missing param \"\(names[i])\"; it takes \(listing)") }
                try body(i, v)
            }
        }
    }
}

/// The params a JSON-ABI method declares, checked before the call like a typed method's: C
/// types by the same rules (ranges, NULs, base64), and the JSON kinds `number`, `array`,
/// `object`, `any`. The plugin still receives the params as the caller wrote them.
struct JSONParamSignature: Sendable {
    /// What a declared param must be.
    enum Check: Sendable {
        /// A C type, checked exactly as for a typed method (a one-param signature of it).
        case typed(TypedSignature)
        case number, array, object, any
    }

    /// The JSON kinds a JSON method's param may name besides the C types.
    static let kinds: [String: Check] = ["number": .number, "array": .array, "object": .object, "any": .any, "json": .any]

    let method: String
    let names: [String]
    let checks: [Check]
    let listing: String

    /// Nil when the method declares no params (it reads whatever it is given).
    init?(_ m: MethodManifest) {
        guard !m.params.isEmpty else { return nil }
        method = m.name
        names = m.params.map(\.name)
        checks = m.params.map { p in
            if let t = p.type {
                return .typed(TypedSignature(MethodManifest(name: m.name, symbol: m.symbol, abi: .c, params: [p], returns: .void,
                                                            timeout: nil, doc: nil)))
            }
            return Self.kinds[p.typeName] ?? .any
        }
        listing = "(" + m.params.map { "\($0.name): \($0.typeName)" }.joined(separator: ", ") + ")"
    }

    func check(_ params: Params) throws(RPCError) {
        try ParamMatch.forEach(params, names: names, method: method, listing: listing) { (i, v) throws(RPCError) in
            let fits: Bool
            switch checks[i] {
            case .typed(let signature):
                var slots: (UInt64, UInt64) = (0, 0)
                var arena: [UInt8] = []
                try withUnsafeMutableBytes(of: &slots) { (raw) throws(RPCError) in
                    try signature.encode(.positional([v]), into: raw.baseAddress!.assumingMemoryBound(to: UInt64.self), arena: &arena)
                }
                return
            case .number:
                if case .int = v { fits = true } else if case .uint = v { fits = true } else if case .double = v { fits = true } else { fits = false }
            case .array: fits = v.arrayValue != nil
            case .object: fits = v.objectValue != nil
            case .any: fits = true
            }
            guard fits else { throw .invalidParams("\(method): param \"\(names[i])\" must be \(article(i)), not \(v.typeName)") }
        }
    }

    private func article(_ i: Int) -> String {
        switch checks[i] {
        case .number: "a number"
        case .array: "an array"
        case .object: "an object"
        default: "a value"
        }
    }
}
