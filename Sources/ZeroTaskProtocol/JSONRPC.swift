/// Parameters of a request: by position or by name.
public enum Params: Sendable, Equatable {
    case positional([JSONValue])
    case named(JSONObject)

    public static let none = Params.positional([])

    public var json: JSONValue {
        switch self {
        case .positional(let a): .array(a)
        case .named(let o): .object(o)
        }
    }

    /// Params from a JSON value: an array or an object, anything else is not params.
    public init?(json: JSONValue) {
        switch json {
        case .array(let a): self = .positional(a)
        case .object(let o): self = .named(o)
        default: return nil
        }
    }
}

/// A JSON-RPC 2.0 request, or a notification when `id` is nil.
///
/// An id may be any JSON value; `0`, `""` and even `null` are ids, only absence makes a notification.
public struct Request: Sendable, Equatable {
    public var method: String
    public var params: Params
    public var id: JSONValue?

    public init(method: String, params: Params = .none, id: JSONValue?) {
        self.method = method
        self.params = params
        self.id = id
    }

    public var isNotification: Bool { id == nil }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("jsonrpc", "2.0")
        o.append("method", .string(method))
        o.append("params", params.json)
        if let id { o.append("id", id) }
        return .object(o)
    }
}

/// A JSON-RPC 2.0 response: a result or an error, for the request with `id`.
public struct Response: Sendable, Equatable {
    public var id: JSONValue
    public var outcome: Result<JSONValue, RPCError>

    public init(id: JSONValue, result: JSONValue) {
        self.id = id
        self.outcome = .success(result)
    }

    public init(id: JSONValue, error: RPCError) {
        self.id = id
        self.outcome = .failure(error)
    }

    public var json: JSONValue {
        var o = JSONObject()
        o.append("jsonrpc", "2.0")
        switch outcome {
        case .success(let r): o.append("result", r)
        case .failure(let e): o.append("error", e.json)
        }
        o.append("id", id)
        return .object(o)
    }

    /// Reads a response object; `nil` when the value is not one.
    public init?(json: JSONValue) {
        guard case .object(let o) = json, let id = o["id"] else { return nil }
        if let e = o["error"] {
            guard let error = RPCError(json: e) else { return nil }
            self.init(id: id, error: error)
        } else if let r = o["result"] {
            self.init(id: id, result: r)
        } else {
            return nil
        }
    }
}

/// One entry of an incoming body: a well-formed request, or the error response it earned.
public enum IncomingCall: Sendable, Equatable {
    case request(Request)
    case invalid(Response)
}

/// A parsed message body: one call, or a batch.
public enum IncomingBody: Sendable, Equatable {
    case single(IncomingCall)
    case batch([IncomingCall])

    /// Parses a body. A body that is not JSON, an empty batch, or a request object that breaks the
    /// rules becomes an `.invalid` entry carrying the right error; nothing here throws.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> IncomingBody {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            return .single(.invalid(Response(id: .null, error: RPCError(.parseError, "parse error: \(error)"))))
        }
        return parse(value)
    }

    public static func parse(_ value: JSONValue) -> IncomingBody {
        if case .array(let items) = value {
            if items.isEmpty {
                return .single(.invalid(Response(id: .null, error: RPCError(.invalidRequest, "empty batch"))))
            }
            return .batch(items.map(call(from:)))
        }
        return .single(call(from: value))
    }

    static func call(from value: JSONValue) -> IncomingCall {
        guard case .object(let o) = value else {
            return .invalid(Response(id: .null, error: RPCError(.invalidRequest, "request must be a JSON object, not \(value.typeName)")))
        }
        let id = o["id"]
        func bad(_ message: String) -> IncomingCall {
            .invalid(Response(id: id ?? .null, error: RPCError(.invalidRequest, message)))
        }
        if let id {
            switch id {
            case .array, .object, .bool:
                // JSON-RPC 2.0: an id that cannot be used is answered with a null id.
                return .invalid(Response(id: .null, error: RPCError(.invalidRequest, "id must be a string, number or null, not \(id.typeName)")))
            default: break
            }
        }
        guard o["jsonrpc"] == .string("2.0") else { return bad("\"jsonrpc\" must be \"2.0\"") }
        guard case .string(let method)? = o["method"] else { return bad("\"method\" must be a string") }
        var params = Params.none
        if let p = o["params"] {
            guard let parsed = Params(json: p) else { return bad("\"params\" must be an array or an object") }
            params = parsed
        }
        for key in o.keys where key != "jsonrpc" && key != "method" && key != "params" && key != "id" {
            return bad("unexpected member \"\(key)\" in request")
        }
        return .request(Request(method: method, params: params, id: id))
    }
}
