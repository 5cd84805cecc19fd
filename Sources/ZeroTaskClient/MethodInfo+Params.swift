import ZeroTaskProtocol

/// Reading params against a method's advertised signature, before anything is submitted: the
/// command line keeps a bare word a string where the signature says string, and refuses params
/// that cannot fit (a wrong count, an unknown name, a word where a number is needed) with a
/// usage error naming the param, instead of a task that fails on the node.
extension MethodInfo {
    /// The advertised type of the param at `position`, or nil when not advertised.
    public func paramType(at position: Int) -> String? {
        guard let params, position < params.count else { return nil }
        return params[position].type
    }

    /// The advertised type of the param called `name`, or nil when not advertised.
    public func paramType(named name: String) -> String? {
        params?.first { $0.name == name }?.type
    }

    /// Why `given` cannot fit the advertised signature, or nil when it fits or the method does
    /// not describe its params (a JSON method with no declared params reads whatever it gets).
    /// Checks what the node would check first: the count, the names, the JSON kind of each.
    public func mismatch(_ given: Params) -> String? {
        guard let params, !params.isEmpty else { return nil }
        let listing = "(" + params.map { "\($0.name): \($0.type)" }.joined(separator: ", ") + ")"
        switch given {
        case .positional(let values):
            guard values.count == params.count else {
                return "\(name) takes \(params.count) param\(params.count == 1 ? "" : "s") \(listing), got \(values.count)"
            }
            for (p, v) in zip(params, values) {
                if let why = Self.kindMismatch(v, p.type) { return "\(name): param \"\(p.name)\" must be \(why); it takes \(listing)" }
            }
        case .named(let object):
            for key in object.keys where !params.contains(where: { $0.name == key }) {
                return "\(name): unexpected param \"\(key)\"; it takes \(listing)"
            }
            for p in params {
                guard let v = object[p.name] else { return "\(name): missing param \"\(p.name)\"; it takes \(listing)" }
                if let why = Self.kindMismatch(v, p.type) { return "\(name): param \"\(p.name)\" must be \(why); it takes \(listing)" }
            }
        }
        return nil
    }

    /// What `value` should have been for an advertised `type`, or nil when its JSON kind fits.
    /// Ranges and encodings stay the node's to check: this only catches a value of the wrong kind.
    static func kindMismatch(_ value: JSONValue, _ type: String) -> String? {
        let fits: Bool
        let expected: String
        switch type {
        case "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64":
            fits = value.int64Value != nil || { if case .uint = value { true } else { false } }()
            expected = "an integer (\(type))"
        case "float", "double", "number":
            // Non-finite values travel as the strings the plugin ABI names.
            fits = value.doubleValue != nil || ["NaN", "Infinity", "-Infinity"].contains(value.stringValue ?? "")
            expected = "a number (\(type))"
        case "string", "bytes":
            fits = value.stringValue != nil
            expected = "a string (\(type))"
        case "bool":
            fits = value.boolValue != nil
            expected = "true or false (bool)"
        case "array":
            fits = value.arrayValue != nil
            expected = "an array"
        case "object":
            fits = value.objectValue != nil
            expected = "an object"
        default:
            return nil
        }
        return fits ? nil : "\(expected), not \(value.typeName) \(value.jsonString.prefix(40))"
    }
}
