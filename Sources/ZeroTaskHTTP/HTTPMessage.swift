import Foundation

/// The HTTP/1.1 the broker's side needs (`/metrics`, `/health`, the dashboard and its API): a
/// request read whole, a response sent whole with its length. Small on purpose: a library with
/// routing, streaming and WebSockets cost the first release build 40 s of CPU for none of them.

/// A header name, compared without case.
public struct HTTPHeader: Hashable, Sendable, ExpressibleByStringLiteral {
    public let name: String
    public init(_ name: String) { self.name = name }
    public init(stringLiteral name: String) { self.name = name }
    public static func == (a: Self, b: Self) -> Bool { a.name.caseInsensitiveCompare(b.name) == .orderedSame }
    public func hash(into h: inout Hasher) { h.combine(name.lowercased()) }

    public static let contentType: Self = "Content-Type", contentLength: Self = "Content-Length"
    public static let cacheControl: Self = "Cache-Control", setCookie: Self = "Set-Cookie", cookie: Self = "Cookie"
    public static let authorization: Self = "Authorization", connection: Self = "Connection"
    public static let transferEncoding: Self = "Transfer-Encoding"
}

/// Headers in the order given; a name given twice keeps its first value when read.
public struct HTTPHeaders: Sendable, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(HTTPHeader, String)] = []
    public init() {}
    public init(dictionaryLiteral elements: (HTTPHeader, String)...) { fields = elements }

    public subscript(name: HTTPHeader) -> String? {
        get { fields.first { $0.0 == name }?.1 }
        set {
            fields.removeAll { $0.0 == name }
            if let newValue { fields.append((name, newValue)) }
        }
    }
}

public enum HTTPStatusCode: Int, Sendable {
    case ok = 200, badRequest = 400, unauthorized = 401, notFound = 404, methodNotAllowed = 405, lengthRequired = 411
    case payloadTooLarge = 413, headersTooLarge = 431, internalServerError = 500, notImplemented = 501
    case serviceUnavailable = 503

    var reason: String {
        switch self {
        case .ok: "OK"
        case .badRequest: "Bad Request"
        case .unauthorized: "Unauthorized"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .lengthRequired: "Length Required"
        case .payloadTooLarge: "Payload Too Large"
        case .headersTooLarge: "Request Header Fields Too Large"
        case .internalServerError: "Internal Server Error"
        case .notImplemented: "Not Implemented"
        case .serviceUnavailable: "Service Unavailable"
        }
    }
}

public struct HTTPRequest: Sendable {
    public struct QueryItem: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public var method: String
    /// The path without its query, percent-decoded.
    public var path: String
    public var query: [QueryItem]
    public var headers: HTTPHeaders
    public var body: Data
    /// HTTP/1.0, or `Connection: close`: the connection ends after the response.
    public var closes: Bool
}

extension [HTTPRequest.QueryItem] {
    /// The first value given for `name`.
    public subscript(name: String) -> String? { first { $0.name == name }?.value }
}

public struct HTTPResponse: Sendable {
    public var statusCode: HTTPStatusCode
    public var headers: HTTPHeaders
    public var body: Data

    public init(statusCode: HTTPStatusCode, headers: HTTPHeaders = [:], body: Data = Data()) {
        self.statusCode = statusCode
        self.headers = headers
        self.body = body
    }

    static func text(_ status: HTTPStatusCode, _ text: String) -> HTTPResponse {
        HTTPResponse(statusCode: status, headers: [.contentType: "text/plain; charset=utf-8"], body: Data(text.utf8))
    }

    /// The bytes on the wire: status line, headers with the body's length, the body.
    func bytes(closing: Bool) -> [UInt8] {
        var head = "HTTP/1.1 \(statusCode.rawValue) \(statusCode.reason)\r\n"
        for (name, value) in headers.fields where name != .contentLength && name != .connection { head += "\(name.name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        if closing { head += "Connection: close\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}

/// Reads one request off the front of a connection's bytes.
enum HTTPParser {
    struct Limits {
        var headerBytes = 16 << 10
        var bodyBytes = 1 << 20
    }

    enum Outcome: Equatable {
        /// More bytes are needed.
        case incomplete
        /// A request and how many bytes it took.
        case request(method: String, target: String, version: String, headers: [String: String], body: [UInt8], consumed: Int)
        /// The request is refused with this status; the connection ends.
        case refused(HTTPStatusCode, String)
    }

    static func parse(_ buffer: [UInt8], limits: Limits = Limits()) -> Outcome {
        guard let end = headerEnd(buffer) else {
            return buffer.count > limits.headerBytes ? .refused(.headersTooLarge, "request headers over \(limits.headerBytes) bytes") : .incomplete
        }
        guard end <= limits.headerBytes else { return .refused(.headersTooLarge, "request headers over \(limits.headerBytes) bytes") }
        guard let head = String(bytes: buffer[..<end], encoding: .utf8) else { return .refused(.badRequest, "request headers are not UTF-8") }
        var lines = head.components(separatedBy: "\r\n")
        let start = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard start.count == 3, !start[0].isEmpty, start[1].hasPrefix("/"), start[2].hasPrefix("HTTP/1.") else {
            return .refused(.badRequest, "malformed request line")
        }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .refused(.badRequest, "malformed header line") }
            let name = line[..<colon].lowercased()
            if headers[name] == nil { headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        if headers["transfer-encoding"] != nil { return .refused(.notImplemented, "chunked request bodies are not accepted; send Content-Length") }
        var length = 0
        if let text = headers["content-length"] {
            guard let n = Int(text), n >= 0 else { return .refused(.badRequest, "bad Content-Length") }
            length = n
        }
        guard length <= limits.bodyBytes else { return .refused(.payloadTooLarge, "request body over \(limits.bodyBytes) bytes") }
        let bodyStart = end + 4
        guard buffer.count >= bodyStart + length else { return .incomplete }
        return .request(method: String(start[0]), target: String(start[1]), version: String(start[2]), headers: headers,
            body: Array(buffer[bodyStart..<(bodyStart + length)]), consumed: bodyStart + length)
    }

    /// Where `\r\n\r\n` starts, if it is there.
    static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    /// A parsed request as the handlers see it.
    static func request(method: String, target: String, version: String, headers: [String: String], body: [UInt8]) -> HTTPRequest {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts[0]).removingPercentEncoding ?? String(parts[0])
        var query: [HTTPRequest.QueryItem] = []
        if parts.count == 2 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ s: Substring) -> String { let plus = s.replacingOccurrences(of: "+", with: " "); return plus.removingPercentEncoding ?? plus }
                query.append(.init(name: decode(kv[0]), value: kv.count == 2 ? decode(kv[1]) : ""))
            }
        }
        var h = HTTPHeaders()
        for (k, v) in headers.sorted(by: { $0.key < $1.key }) { h[HTTPHeader(k)] = v }
        let connection = headers["connection"]?.lowercased()
        let closes = version == "HTTP/1.0" ? connection != "keep-alive" : connection == "close"
        return HTTPRequest(method: method, path: path, query: query, headers: h, body: Data(body), closes: closes)
    }
}
