import Logging
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
        return HTTPSide(monitor: monitor, server: try BrokerHTTPServer(address: address, monitor: monitor, metrics: metrics, logger: logger))
    }
}
