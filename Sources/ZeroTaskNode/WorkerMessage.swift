import Logging
import ZeroTaskPlugins
import ZeroTaskProtocol

/// Everything node and worker say to each other over the control and urgent channels, and the
/// one codec both sides use (`json` and `init(json:)`): a `type` member names the case.
/// `FrameChannel` carries the frames.
enum WorkerMessage: Sendable, Equatable {
    // Node → worker.

    /// Run a method (queued behind any task the worker holds).
    case task(id: String, method: String, params: JSONValue)
    /// Stop a task: skip it if it has not started, or flag `ctx->cancelled` if it runs.
    case cancel(id: String)
    /// Exit once the tasks already sent have run.
    case exit

    // Worker → node.

    /// Plugins loaded: what this worker serves (method descriptors) and what it skipped.
    case ready(pid: Int32, methods: [JSONValue], problems: [String])
    /// A task's outcome, and the worker's resident size when it measured it.
    case done(id: String, outcome: Result<JSONValue, RPCError>, residentBytes: Int?)
    /// A running task's progress report.
    case progress(id: String, fraction: Double, message: String?)
    /// A plugin's `ctx->log` line, for the task that was running (if any).
    case log(taskID: String?, level: Logger.Level, message: String)
    /// The probe mode's verdict on the one plugin it loaded.
    case probe(ProbeOutcome)

    /// A frame that is not a worker message: it names what is wrong.
    struct DecodingError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The frame's JSON form.
    var json: JSONValue {
        switch self {
        case .task(let id, let method, let params):
            return ["type": "task", "id": .string(id), "method": .string(method), "params": params]
        case .cancel(let id):
            return ["type": "cancel", "id": .string(id)]
        case .exit:
            return ["type": "exit"]
        case .ready(let pid, let methods, let problems):
            return ["type": "ready", "pid": .int(Int64(pid)), "methods": .array(methods),
                    "problems": .array(problems.map { .string($0) })]
        case .done(let id, let outcome, let residentBytes):
            var o: JSONObject = ["type": "done", "id": .string(id)]
            switch outcome {
            case .success(let result): o["result"] = result
            case .failure(let error): o["error"] = error.json
            }
            if let residentBytes { o["rss"] = .int(Int64(residentBytes)) }
            return .object(o)
        case .progress(let id, let fraction, let message):
            var o: JSONObject = ["type": "progress", "id": .string(id), "progress": .double(fraction)]
            if let message { o["message"] = .string(message) }
            return .object(o)
        case .log(let taskID, let level, let message):
            return ["type": "log", "id": taskID.map { .string($0) } ?? .null, "level": .string(level.rawValue),
                    "message": .string(message)]
        case .probe(.passed(let name, let methods)):
            return ["type": "probe", "name": .string(name), "methods": .array(methods.map { .string($0) })]
        case .probe(.failed(let p)):
            var problem: JSONObject = ["file": .string(p.file), "cause": .string(p.cause)]
            if let m = p.method { problem["method"] = .string(m) }
            if let f = p.field { problem["field"] = .string(f) }
            return ["type": "probe", "problem": .object(problem)]
        }
    }

    /// Reads a frame; throws for an unknown `type` or a missing or mistyped member, naming it.
    init(json: JSONValue) throws(DecodingError) {
        guard let type = json["type"]?.stringValue else { throw DecodingError(description: "a frame without a \"type\"") }
        func string(_ key: String) throws(DecodingError) -> String {
            guard let s = json[key]?.stringValue else {
                throw DecodingError(description: "a \"\(type)\" frame without a string \"\(key)\"")
            }
            return s
        }
        switch type {
        case "task":
            self = .task(id: try string("id"), method: try string("method"), params: json["params"] ?? .array([]))
        case "cancel":
            self = .cancel(id: try string("id"))
        case "exit":
            self = .exit
        case "ready":
            self = .ready(pid: Int32(truncatingIfNeeded: json["pid"]?.int64Value ?? 0), methods: json["methods"]?.arrayValue ?? [],
                          problems: (json["problems"]?.arrayValue ?? []).map { $0.stringValue ?? "\($0)" })
        case "done":
            let id = try string("id")
            let outcome: Result<JSONValue, RPCError> =
                if let e = json["error"].flatMap(RPCError.init(json:)) { .failure(e) } else { .success(json["result"] ?? .null) }
            self = .done(id: id, outcome: outcome, residentBytes: json["rss"]?.int64Value.map { Int($0) })
        case "progress":
            guard let fraction = json["progress"]?.doubleValue else {
                throw DecodingError(description: "a \"progress\" frame without a number \"progress\"")
            }
            self = .progress(id: try string("id"), fraction: fraction, message: json["message"]?.stringValue)
        case "log":
            self = .log(taskID: json["id"]?.stringValue, level: json["level"]?.stringValue.flatMap(Logger.Level.init(rawValue:)) ?? .info,
                        message: json["message"]?.stringValue ?? "")
        case "probe":
            if let p = json["problem"] {
                guard let file = p["file"]?.stringValue, let cause = p["cause"]?.stringValue else {
                    throw DecodingError(description: "a \"probe\" frame whose \"problem\" lacks \"file\" or \"cause\"")
                }
                self = .probe(.failed(PluginProblem(file: file, method: p["method"]?.stringValue, field: p["field"]?.stringValue, cause: cause)))
            } else {
                self = .probe(.passed(name: json["name"]?.stringValue ?? "", methods: (json["methods"]?.arrayValue ?? []).compactMap(\.stringValue)))
            }
        default:
            throw DecodingError(description: "a frame of unknown type \"\(type)\"")
        }
    }
}

extension FrameChannel {
    /// Writes one message (and any queued before it); see `send(_: JSONValue)`.
    func send(_ message: WorkerMessage) throws(ChannelError) { try send(message.json) }

    /// Queues one message for the next `flush`.
    func enqueue(_ message: WorkerMessage) { enqueue(message.json) }
}
