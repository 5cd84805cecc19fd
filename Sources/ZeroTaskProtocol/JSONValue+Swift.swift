/// Plain Swift values as JSON without spelling out the case: `JSONValue(count)`,
/// `JSONValue(name)`, `JSONValue([1, 2, 3])`. Literals work already (`let v: JSONValue = [1, "a"]`);
/// these are for values held in variables.
extension JSONValue {
    /// Any integer: `.int` when it fits `Int64`, `.uint` above, `.double` past both (an
    /// `Int128` out of range keeps its magnitude, as JSON numbers do).
    public init<T: BinaryInteger>(_ value: T) {
        if let i = Int64(exactly: value) {
            self = .int(i)
        } else if let u = UInt64(exactly: value) {
            self = .uint(u)
        } else {
            self = .double(Double(value))
        }
    }

    /// `.double(value)`.
    public init(_ value: Double) { self = .double(value) }
    /// `.bool(value)`.
    public init(_ value: Bool) { self = .bool(value) }
    /// `.string(value)`.
    public init(_ value: String) { self = .string(value) }
    /// `.string(String(value))`.
    public init(_ value: Substring) { self = .string(String(value)) }

    /// An array of anything that converts: `JSONValue([1, 2])`, `JSONValue(["a", "b"])`.
    public init<S: Sequence>(_ values: S) where S.Element: JSONRepresentable { self = .array(values.map(\.jsonValue)) }

    /// An object from a dictionary, its keys sorted so that the JSON text is stable.
    public init<V: JSONRepresentable>(_ members: [String: V]) {
        self = .object(JSONObject(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value.jsonValue) }))
    }
}

/// A Swift value with an obvious JSON form, so arrays and dictionaries of it convert as a whole.
public protocol JSONRepresentable {
    /// The value as JSON.
    var jsonValue: JSONValue { get }
}

extension JSONValue: JSONRepresentable { public var jsonValue: JSONValue { self } }
extension Int: JSONRepresentable { public var jsonValue: JSONValue { JSONValue(self) } }
extension Int64: JSONRepresentable { public var jsonValue: JSONValue { .int(self) } }
extension Int32: JSONRepresentable { public var jsonValue: JSONValue { .int(Int64(self)) } }
extension UInt: JSONRepresentable { public var jsonValue: JSONValue { JSONValue(self) } }
extension UInt64: JSONRepresentable { public var jsonValue: JSONValue { JSONValue(self) } }
extension UInt32: JSONRepresentable { public var jsonValue: JSONValue { .int(Int64(self)) } }
extension Double: JSONRepresentable { public var jsonValue: JSONValue { .double(self) } }
extension Bool: JSONRepresentable { public var jsonValue: JSONValue { .bool(self) } }
extension String: JSONRepresentable { public var jsonValue: JSONValue { .string(self) } }
extension Optional: JSONRepresentable where Wrapped: JSONRepresentable {
    public var jsonValue: JSONValue { map(\.jsonValue) ?? .null }
}
extension Array: JSONRepresentable where Element: JSONRepresentable { public var jsonValue: JSONValue { JSONValue(self) } }

/// Params written as literals: `client.call("math.add", [2, 3])` (by position) or
/// `client.call("math.add", ["a": 2, "b": 3])` (by name).
extension Params: ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    /// Params by position: `[2, 3]`.
    public init(arrayLiteral elements: JSONValue...) { self = .positional(elements) }
    /// Params by name: `["a": 2, "b": 3]`.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .named(JSONObject(elements)) }

    /// Positional params from Swift values: `Params(a, b)` for two `Int`s.
    public init(_ values: any JSONRepresentable...) { self = .positional(values.map(\.jsonValue)) }
}
