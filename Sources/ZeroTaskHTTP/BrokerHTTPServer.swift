import FlyingFox
import FlyingSocks
import Foundation
import Logging
import ServiceLifecycle
import ZeroTaskBroker
import ZeroTaskProtocol

/// The broker's HTTP side: `/metrics` (Prometheus text) and `/health`, served by FlyingFox from
/// what a `BrokerMonitor` holds. It never touches the broker's state: the broker thread hands
/// it snapshots, so a slow scrape cannot slow the broker.
///
/// A `Service`: run it in the `ServiceGroup` after the broker, so that it stops first.
public final class BrokerHTTPServer: Service, Sendable {
    public let address: HTTPAddress
    private let monitor: BrokerMonitor
    private let metrics: BrokerMetrics
    private let logger: Logger
    private let server: HTTPServer

    /// `monitor` must be the one the broker was given, with `metrics` as its observer.
    public init(address: HTTPAddress, monitor: BrokerMonitor, metrics: BrokerMetrics, logger: Logger) throws {
        self.address = address
        self.monitor = monitor
        self.metrics = metrics
        self.logger = logger
        server = HTTPServer(
            address: try .inet(ip4: address.host, port: address.port),
            logger: FlyingFoxLogger(logger: logger))
    }

    /// Serves until graceful shutdown or cancellation; a taken port fails here.
    public func run() async throws {
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
        // The broker is what matters: an HTTP port that is taken is an error in the log, not a
        // broker that does not start.
        do {
            try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup { group in
                    group.addTask { [server] in try await server.run() }
                    group.addTask { [server, logger, address] in
                        try await server.waitUntilListening(timeout: 60)
                        logger.info("http listening", metadata: ["http": "\(address)"])
                    }
                    // The first error (a taken port) is thrown here at once, which cancels the other.
                    while try await group.next() != nil {}
                }
            } onGracefulShutdown: { [server] in
                Task { await server.stop(timeout: 1) }
            }
        } catch is CancellationError {
        } catch {
            logger.error("http: cannot serve \(address): \(error); the broker goes on without /metrics, /health and the dashboard")
        }
    }
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
