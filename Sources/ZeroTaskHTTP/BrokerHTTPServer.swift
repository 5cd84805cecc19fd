import Foundation
import Logging
import ZeroTaskBroker
import ZeroTaskProtocol

/// The broker's HTTP side: `/metrics` (Prometheus text) and `/health`, served by our own `HTTPServer` from
/// what a `BrokerMonitor` holds, and the dashboard at `/` with its JSON API under `/api/`. It
/// never touches the broker's state: the broker thread hands it snapshots, so a slow scrape
/// cannot slow the broker, and the dashboard's lists and actions go through the monitor's inbox.
/// With an `AdminCredential` the dashboard and the API answer 401 without its token;
/// `/metrics` and `/health` stay open for scrapers and probes.
///
/// A `Service` through ZeroTaskLifecycle: run it in the `ServiceGroup` after the broker, so
/// that it stops first.
public final class BrokerHTTPServer: Sendable {
    public let address: HTTPAddress
    private let monitor: BrokerMonitor
    private let metrics: BrokerMetrics
    private let logger: Logger
    private let server: HTTPServer
    private let credential: AdminCredential?

    /// `monitor` must be the one the broker was given, with `metrics` as its observer.
    public init(address: HTTPAddress, monitor: BrokerMonitor, metrics: BrokerMetrics, logger: Logger,
        credential: AdminCredential? = nil) throws
    {
        self.address = address
        self.credential = credential
        self.monitor = monitor
        self.metrics = metrics
        self.logger = logger
        server = HTTPServer(host: address.host, port: address.port)
    }

    /// Serves until `stopServing()` (a `ServiceGroup`'s graceful shutdown) or cancellation; a
    /// taken port is logged here, and the call returns.
    public func serve() async throws {
        server.route("GET /metrics") { [metrics, monitor] _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.render(monitor.snapshot)))
        }
        server.route("GET /health") { [monitor] _ in
            switch monitor.health(now: MonotonicInstant.now()) {
            case .healthy:
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain"], body: Data("ok\n".utf8))
            case .unhealthy(let why):
                HTTPResponse(statusCode: .serviceUnavailable, headers: [.contentType: "text/plain"], body: Data("\(why)\n".utf8))
            }
        }
        addDashboardRoutes()
        let server = server
        await withTaskCancellationHandler {
            await withCheckedContinuation { (stopped: CheckedContinuation<Void, Never>) in
                do {
                    try server.listen { stopped.resume() }
                    logger.info("http listening", metadata: ["http": "\(address)"])
                } catch {
                    // The broker is what matters: an HTTP port that is taken is an error in the
                    // log, not a broker that does not start.
                    logger.error("http: cannot serve \(address): \(error); the broker goes on without /metrics, /health and the dashboard")
                    stopped.resume()
                }
            }
        } onCancel: {
            server.stop()
        }
    }
}

extension BrokerHTTPServer {
    /// Stops serving; requests in progress finish. Returns at once.
    public func stopServing() { server.stop() }
}

extension BrokerHTTPServer {
    /// `/`, its style and script, and `/api/…`, each behind the credential when there is one.
    private func addDashboardRoutes() {
        let api = DashboardAPI(inbox: monitor.inbox, recent: metrics.recent)
        let credential = credential
        func guarded(_ route: String, _ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) {
            server.route(route) { request in
                if let credential, !credential.admits(request) { return Self.unauthorized }
                return await handler(request)
            }
        }
        guarded("GET /") { request in
            var headers: HTTPHeaders = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
            // Opened with ?token=: the cookie carries it from now on, for the script's requests too.
            if let credential, request.query["token"] != nil { headers[.setCookie] = credential.setCookie }
            return HTTPResponse(statusCode: .ok, headers: headers, body: Data(DashboardAssets.html.utf8))
        }
        guarded("GET /dashboard.css") { _ in Self.asset(DashboardAssets.css, "text/css; charset=utf-8") }
        guarded("GET /dashboard.js") { _ in Self.asset(DashboardAssets.js, "text/javascript; charset=utf-8") }
        guarded("GET /api/overview") { _ in await api.overview() }
        guarded("GET /api/tasks") { await api.tasks($0) }
        guarded("GET /api/task") { await api.task($0) }
        guarded("POST /api/retry") { await api.act(.adminRetry, $0) }
        guarded("POST /api/cancel") { await api.act(.adminCancel, $0) }
        guarded("POST /api/queue") { await api.act(.adminQueue, $0) }
    }

    private static func asset(_ text: String, _ type: String) -> HTTPResponse {
        HTTPResponse(statusCode: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: Data(text.utf8))
    }

    static let unauthorized = HTTPResponse(
        statusCode: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", HTTPHeader("WWW-Authenticate"): "Bearer"],
        body: Data("401: the dashboard needs the admin token: run `zerotask keys token` on the broker's machine and open /?token=TOKEN (or send Authorization: Bearer TOKEN)\n".utf8))
}
