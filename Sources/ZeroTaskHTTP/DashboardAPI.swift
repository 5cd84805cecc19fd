import Foundation
import ZeroTaskBroker
import ZeroTaskProtocol

/// The dashboard's JSON endpoints under `/api/`: each one asks the broker thread through the
/// monitor's inbox (`BrokerInbox`) and answers what the broker said, so the HTTP side reads
/// nothing of the broker's state itself.
///
/// - `GET /api/overview`: `{activity, stats, methods, nodes, schedules}` (what the page polls every 2 s)
/// - `GET /api/tasks?state=&method=&client_id=&node_id=&since=&until=&text=&limit=&cursor=`
/// - `GET /api/task?id=`
/// - `POST /api/retry`, `POST /api/cancel`: a JSON object, `{task_ids}` or the filters
/// - `POST /api/queue`: `{method, action}` (pause, resume or purge a method's queue)
struct DashboardAPI: Sendable {
    let inbox: BrokerInbox
    let recent: RecentActivity

    /// The filters of `admin_tasks` that the query string may carry, with how each reads.
    static let numberParams: Set<String> = ["since", "until", "limit"]
    static let textParams = ["state", "method", "client_id", "node_id", "text", "cursor"]

    func overview() async -> HTTPResponse {
        var o: JSONObject = ["activity": recent.json()]
        for (key, method) in [("stats", BrokerMethod.stats), ("methods", .methods), ("nodes", .nodes), ("schedules", .adminScheduleList)] {
            switch await inbox.ask(method).outcome {
            case .success(let v): o[key] = v
            case .failure(let e): return Self.failure(e)
            }
        }
        return Self.json(.object(o))
    }

    func tasks(_ request: HTTPRequest) async -> HTTPResponse {
        switch Self.filters(request.query) {
        case .success(let p): return Self.answer(await inbox.ask(.adminTasks, p))
        case .failure(let e): return Self.failure(e)
        }
    }

    func task(_ request: HTTPRequest) async -> HTTPResponse {
        guard let id = request.query["id"], !id.isEmpty else { return Self.failure(.invalidParams("/api/task: missing ?id=")) }
        return Self.answer(await inbox.ask(.adminTask, ["task_id": .string(id)]))
    }

    /// `admin_retry`, `admin_cancel` or `admin_queue` with the request's JSON object as params.
    func act(_ method: BrokerMethod, _ request: HTTPRequest) async -> HTTPResponse {
        let body = Array(request.body)
        guard let value = try? JSONValue.parse(body), case .object(let p) = value else {
            return Self.failure(.invalidParams("\(request.path): the body must be a JSON object ({\"task_ids\": [...]} or filters)"))
        }
        return Self.answer(await inbox.ask(method, p))
    }

    /// The query string as `admin_tasks` params: numbers where the broker wants numbers.
    static func filters(_ query: [HTTPRequest.QueryItem]) -> Result<JSONObject, RPCError> {
        var p = JSONObject()
        for item in query where !item.value.isEmpty {
            if numberParams.contains(item.name) {
                guard let d = Double(item.value) else { return .failure(.invalidParams("/api/tasks: \(item.name) must be a number, not \"\(item.value)\"")) }
                p[item.name] = item.name == "limit" ? .int(Int64(d)) : .double(d)
            } else if textParams.contains(item.name) {
                p[item.name] = .string(item.value)
            }
        }
        return .success(p)
    }

    static func answer(_ r: Response) -> HTTPResponse {
        switch r.outcome {
        case .success(let v): json(v)
        case .failure(let e): failure(e)
        }
    }

    static func json(_ v: JSONValue, status: HTTPStatusCode = .ok) -> HTTPResponse {
        HTTPResponse(statusCode: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: Data(v.jsonBytes))
    }

    /// 404 for an unknown task, 400 for bad params, 500 for the rest; the body is `{error}`.
    static func failure(_ e: RPCError) -> HTTPResponse {
        let status: HTTPStatusCode =
            switch e.code {
            case ErrorCode.invalidTaskID.rawValue: .notFound
            case ErrorCode.invalidParams.rawValue: .badRequest
            default: .internalServerError
            }
        return json(["error": e.json], status: status)
    }
}
