import Foundation
import ZeroTaskClient
import ZeroTaskProtocol

/// Params as the command line gave them, before they are read against the method's advertised
/// signature: the signature decides whether a word like `5` is the number or the string (a
/// param typed `string` keeps it as text), and params that cannot fit it are refused (exit 64)
/// instead of becoming a task that fails on the node.
enum ParamsInput {
    /// Whole params from `--params` or `--json`, already JSON.
    case whole(Params)
    /// `ARG…`, by position.
    case words([String])
    /// `--named NAME=VALUE…`.
    case named([(String, String)])

    /// The params for `method` (nil when the broker did not describe it): each word read as
    /// JSON, except for a param typed string or bytes, where the word is the text itself unless
    /// it is a quoted JSON string. Then checked against the signature.
    func params(for method: MethodInfo?) throws(CLIFailure) -> Params {
        let params: Params
        switch self {
        case .whole(let p): params = p
        case .words(let words):
            params = .positional(words.enumerated().map { Self.value($0.element, type: method?.paramType(at: $0.offset)) })
        case .named(let pairs):
            params = .named(JSONObject(pairs.map { ($0.0, Self.value($0.1, type: method?.paramType(named: $0.0))) }))
        }
        if let method, let why = method.mismatch(params) {
            throw CLIFailure(.usage, why + " (see: zerotask methods)")
        }
        return params
    }

    /// The params for `method` as the broker describes it. A broker that cannot describe
    /// methods (a seed-only one) leaves words read as JSON and params unchecked.
    func params(for method: String, from client: ZeroTaskClient) async throws -> Params {
        let described: MethodInfo?
        do {
            described = try await client.methods().first { $0.name == method }
        } catch ZeroTaskClientError.unsupported {
            described = nil
        }
        return try params(for: described)
    }

    /// A word as JSON: valid JSON as it is, anything else as a string; for a string-typed param
    /// the word itself, unless it is written as a JSON string (`'"quoted"'`).
    static func value(_ text: String, type: String?) -> JSONValue {
        if type == "string" || type == "bytes" {
            if text.hasPrefix("\""), case .string(let s)? = try? JSONValue.parse(text) { return .string(s) }
            return .string(text)
        }
        return (try? JSONValue.parse(text)) ?? .string(text)
    }

    /// `--params`/`--json` text as params: a JSON object or array.
    static func whole(_ text: String, flag: String) throws(CLIFailure) -> Params {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch {
            throw CLIFailure(.usage, "\(flag): not valid JSON (\(error)): \(text.prefix(200))")
        }
        guard let p = Params(json: value) else {
            throw CLIFailure(.usage, "\(flag) must be a JSON object or array, not \(value.typeName); for one value, pass it as an ARG")
        }
        return p
    }

    /// The text `--params` names: `@FILE`'s contents, standard input for `-`, else itself.
    static func read(_ source: String) throws(CLIFailure) -> String {
        if source == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard let text = String(data: data, encoding: .utf8) else {
                throw CLIFailure(.usage, "--params -: standard input is not UTF-8 text")
            }
            return text
        }
        guard source.hasPrefix("@") else { return source }
        let path = String(source.dropFirst())
        guard !path.isEmpty else { throw CLIFailure(.usage, "--params @FILE: name the file after @, e.g. --params @params.json") }
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let why = FileManager.default.fileExists(atPath: path) ? "cannot read it as UTF-8 text" : "no such file"
            throw CLIFailure(.usage, "--params \(source): \(path): \(why)")
        }
    }
}
