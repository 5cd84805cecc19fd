/// Binds a request's params, by position or by name, to a method's parameter list, and reads
/// them with type checks whose errors name the parameter (-32602).
public struct ParamBinder: Sendable {
    public let method: String
    private let names: [String]
    private var values: [JSONValue?]

    /// - Parameters:
    ///   - names: every parameter the method takes, in positional order.
    ///   - required: how many leading parameters must be present.
    public init(_ params: Params, method: String, names: [String], required: Int) throws(RPCError) {
        self.method = method
        self.names = names
        values = Array(repeating: nil, count: names.count)
        switch params {
        case .positional(let a):
            guard a.count <= names.count else {
                throw .invalidParams("\(method): too many params (\(a.count)); it takes \(Self.signature(names, required))")
            }
            for (i, v) in a.enumerated() { values[i] = v }
        case .named(let o):
            for m in o.members {
                guard let i = names.firstIndex(of: m.key) else {
                    throw .invalidParams("\(method): unexpected param \"\(m.key)\"; it takes \(Self.signature(names, required))")
                }
                values[i] = m.value
            }
        }
        for i in 0..<required where values[i] == nil {
            throw .invalidParams("\(method): missing param \"\(names[i])\"; it takes \(Self.signature(names, required))")
        }
    }

    static func signature(_ names: [String], _ required: Int) -> String {
        "(" + names.enumerated().map { $0.offset < required ? $0.element : "[\($0.element)]" }.joined(separator: ", ") + ")"
    }

    /// The raw value, or nil when absent. An explicit JSON null counts as absent for optional params.
    public func value(_ name: String) -> JSONValue? {
        guard let i = names.firstIndex(of: name), let v = values[i] else { return nil }
        if case .null = v { return nil }
        return v
    }

    public func has(_ name: String) -> Bool { value(name) != nil }

    private func wrongType(_ name: String, _ expected: String, _ v: JSONValue) -> RPCError {
        .invalidParams("\(method): param \"\(name)\" must be \(expected), not \(v.typeName)")
    }

    private func missing(_ name: String) -> RPCError { .invalidParams("\(method): missing param \"\(name)\"") }

    public func string(_ name: String) throws(RPCError) -> String {
        guard let v = value(name) else { throw missing(name) }
        guard case .string(let s) = v else { throw wrongType(name, "a string", v) }
        return s
    }

    public func optionalString(_ name: String) throws(RPCError) -> String? {
        guard let v = value(name) else { return nil }
        guard case .string(let s) = v else { throw wrongType(name, "a string", v) }
        return s
    }

    public func optionalInt(_ name: String, in range: ClosedRange<Int64> = Int64.min...Int64.max) throws(RPCError) -> Int64? {
        guard let v = value(name) else { return nil }
        if case .uint(let u) = v {
            // An integer above Int64.max is out of range, not of the wrong type.
            throw .invalidParams("\(method): param \"\(name)\" must be in \(range.lowerBound)...\(range.upperBound), not \(u)")
        }
        guard case .int(let i) = v else { throw wrongType(name, "an integer", v) }
        guard range.contains(i) else {
            throw .invalidParams("\(method): param \"\(name)\" must be in \(range.lowerBound)...\(range.upperBound), not \(i)")
        }
        return i
    }

    /// A non-negative number of seconds.
    public func optionalSeconds(_ name: String) throws(RPCError) -> Double? {
        guard let v = value(name) else { return nil }
        guard let d = v.doubleValue else { throw wrongType(name, "a number of seconds", v) }
        guard d >= 0, d.isFinite else { throw .invalidParams("\(method): param \"\(name)\" must be a non-negative number of seconds") }
        return d
    }

    public func object(_ name: String) throws(RPCError) -> JSONObject {
        guard let v = value(name) else { throw missing(name) }
        guard case .object(let o) = v else { throw wrongType(name, "an object", v) }
        return o
    }

    public func array(_ name: String) throws(RPCError) -> [JSONValue] {
        guard let v = value(name) else { throw missing(name) }
        guard case .array(let a) = v else { throw wrongType(name, "an array", v) }
        return a
    }
}
