import Foundation
import ZeroTaskProtocol

/// A bridge between `JSONValue` and `Codable` types, through JSON text: values are small and the
/// protocol layer's writer keeps 64-bit integers exact.
extension JSONValue {
    /// Decodes this value into `type` with a `JSONDecoder`.
    public func decode<T: Decodable>(as type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws(ZeroTaskClientError) -> T {
        do {
            return try decoder.decode(T.self, from: Data(jsonBytes))
        } catch {
            throw .invalidResponse("cannot decode \(jsonString.prefix(200)) as \(T.self): \(error)")
        }
    }

    /// The JSON value of an `Encodable` value, e.g. a struct of named params.
    public init<T: Encodable>(encoding value: T, encoder: JSONEncoder = JSONEncoder()) throws(ZeroTaskClientError) {
        do {
            let data = try encoder.encode(value)
            self = try JSONValue.parse(Array(data))
        } catch {
            throw .invalidArgument("cannot encode \(T.self) as JSON: \(error)")
        }
    }
}

extension Params {
    /// Params from an `Encodable` value: a struct or dictionary gives named params, an array
    /// positional ones.
    public init<T: Encodable>(encoding value: T) throws(ZeroTaskClientError) {
        let json = try JSONValue(encoding: value)
        guard let p = Params(json: json) else {
            throw .invalidArgument("params must encode as a JSON object or array, not \(json.typeName)")
        }
        self = p
    }
}
