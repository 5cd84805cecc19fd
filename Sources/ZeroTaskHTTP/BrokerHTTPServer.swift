import FlyingFox
import FlyingSocks
import Foundation
import Logging
import ZeroTaskBroker
import ZeroTaskProtocol

/// The broker's HTTP side: `/metrics` (Prometheus text) and `/health`, served by FlyingFox from
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
        server = HTTPServer(
            address: try .inet(ip4: address.host, port: address.port),
            logger: FlyingFoxLogger(logger: logger))
    }

    /// Serves until `stopServing()` (a `ServiceGroup`'s graceful shutdown) or cancellation; a
    /// taken port is logged here, and the call returns.
    public func serve() async throws {
        await server.appendRoute("GET /metrics") { [metrics, monitor] _ in
            HTTPResponse(
                statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: Data(metrics.render(monitor.snapshot)))
        }
        await server.appendRoute("GET /health") { [monitor] _ in
            switch monitor.health(now: monotonicSeconds()) {
            case .healthy:
                HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain"], body: Data("ok\n".utf8))
            case .unhealthy(let why):
                HTTPResponse(statusCode: .serviceUnavailable, headers: [.contentType: "text/plain"], body: Data("\(why)\n".utf8))
            }
        }
        await addDashboardRoutes()
        // The broker is what matters: an HTTP port that is taken is an error in the log, not a
        // broker that does not start.
        do {
            try await withThrowingTaskGroup { group in
                group.addTask { [server] in try await server.run() }
                group.addTask { [server, logger, address] in
                    try await server.waitUntilListening(timeout: 60)
                    logger.info("http listening", metadata: ["http": "\(address)"])
                }
                // The first error (a taken port) is thrown here at once, which cancels the other.
                while try await group.next() != nil {}
            }
        } catch is CancellationError {
        } catch {
            logger.error("http: cannot serve \(address): \(error); the broker goes on without /metrics, /health and the dashboard")
        }
    }
}

extension BrokerHTTPServer {
    /// Stops serving, letting requests in progress finish for a second; returns at once.
    public func stopServing() {
        Task { [server] in await server.stop(timeout: 1) }
    }
}

extension BrokerHTTPServer {
    /// `/`, its style and script, and `/api/…`, each behind the credential when there is one.
    private func addDashboardRoutes() async {
        let api = DashboardAPI(inbox: monitor.inbox, recent: metrics.recent)
        let credential = credential
        func guarded(_ route: String, _ handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) async {
            await server.appendRoute(HTTPRoute(stringLiteral: route)) { request in
                if let credential, !credential.admits(request) { return Self.unauthorized }
                return await handler(request)
            }
        }
        await guarded("GET /") { request in
            var headers: HTTPHeaders = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
            // Opened with ?token=: the cookie carries it from now on, for the script's requests too.
            if let credential, request.query["token"] != nil { headers[.setCookie] = credential.setCookie }
            return HTTPResponse(statusCode: .ok, headers: headers, body: Data(DashboardAssets.html.utf8))
        }
        await guarded("GET /dashboard.css") { _ in Self.asset(DashboardAssets.css, "text/css; charset=utf-8") }
        await guarded("GET /dashboard.js") { _ in Self.asset(DashboardAssets.js, "text/javascript; charset=utf-8") }
        await guarded("GET /api/overview") { _ in await api.overview() }
        await guarded("GET /api/tasks") { await api.tasks($0) }
        await guarded("GET /api/task") { await api.task($0) }
        await guarded("POST /api/retry") { await api.act(.adminRetry, $0) }
        await guarded("POST /api/cancel") { await api.act(.adminCancel, $0) }
        await guarded("POST /api/queue") { await api.act(.adminQueue, $0) }
    }

    private static func asset(_ text: String, _ type: String) -> HTTPResponse {
        HTTPResponse(statusCode: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: Data(text.utf8))
    }

    static let unauthorized = HTTPResponse(
        statusCode: .unauthorized, headers: [.contentType: "text/plain; charset=utf-8", HTTPHeader("WWW-Authenticate"): "Bearer"],
        body: Data("401: the dashboard needs the admin token: run `zerotask keys token` on the broker's machine and open /?token=TOKEN (or send Authorization: Bearer TOKEN)\n".utf8))
}

/// FlyingFox's log lines in the broker's log at debug (trace for its per-connection chatter): what
/// an operator must hear (a port that is taken) `BrokerHTTPServer` says itself, once.
private struct FlyingFoxLogger: FlyingSocks.Logging {
    let logger: Logger
    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("\(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.trace("\(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.debug("\(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.debug("\(error())") }
    func logCritical(_ critical: @autoclosure () -> String) { logger.debug("\(critical())") }
}
