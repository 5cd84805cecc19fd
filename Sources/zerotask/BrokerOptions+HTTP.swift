import Logging
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskHTTP

extension BrokerOptions {
    /// The broker's HTTP server and the monitor that feeds it.
    struct HTTPSide {
        var monitor: BrokerMonitor
        var server: BrokerHTTPServer
    }

    /// The HTTP side `broker.http` (`--http`) asks for, or nil for `off`.
    func httpSide(_ s: Settings, logger: Logger) throws -> HTTPSide? {
        let spec = s.string("broker.http", http, default: Settings.Defaults.http)
        guard spec != "off" else { return nil }
        let address: HTTPAddress
        do {
            address = try HTTPAddress(parsing: spec, setting: "broker.http")
        } catch {
            throw Settings.ValidationFailure(error.description)
        }
        try BindPolicy.check([("broker.http", spec)], .http, insecure: try s.bool("security.insecure", insecure, default: false), logger: logger)
        let metrics = BrokerMetrics()
        let monitor = BrokerMonitor(observer: metrics)
        return HTTPSide(monitor: monitor, server: try BrokerHTTPServer(address: address, monitor: monitor, metrics: metrics, logger: logger,
            credential: try adminCredential(s)))
    }

    /// With keys on, the dashboard's token, derived from the broker's secret key (DESIGN.md
    /// Security: the dashboard and its actions need an admin credential); nil without keys.
    func adminCredential(_ s: Settings) throws -> AdminCredential? {
        guard let path = s.optionalString("security.secret_key", secretKey), !path.isEmpty else { return nil }
        do {
            return AdminCredential(brokerKeys: try CurveKeyFile.readSecret(path))
        } catch {
            throw Settings.ValidationFailure("security: \(error.description)")
        }
    }
}
