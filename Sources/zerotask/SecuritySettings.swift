import Foundation
import Logging
import ZeroMQ

extension Settings {
    /// CURVE keys for connecting to a broker: this process's own key file
    /// (`security.secret_key`) and the broker's public key (`security.broker_key`, a `.pub` file
    /// or the key in Z85); nil when neither is set.
    /// - Throws: `ValidationFailure` naming the missing setting when only one is set, or the key
    ///   file and the cause when a file cannot be used.
    func clientCurve(secretKey: String?, brokerKey: String?) throws -> CurveClientKeys? {
        do {
            return try CurveClientKeys.configured(
                serverKey: optionalString("security.broker_key", brokerKey), secretKeyFile: optionalString("security.secret_key", secretKey),
                names: ("security.broker_key (--broker-key)", "security.secret_key (--secret-key)"))
        } catch {
            throw ValidationFailure("security: \(error.description)")
        }
    }
}

/// Where a broker without keys may bind: this machine only, unless `--insecure` says otherwise.
///
/// Without CURVE anyone who reaches the request socket can run every plugin's native code and
/// pose as any node, so plain sockets stay on loopback (`127.0.0.0/8`, `localhost`, `[::1]`) or
/// off the network (`ipc://`, `inproc://`) unless the operator asks for more.
enum BindPolicy {
    /// Whether `endpoint` can be reached from this machine only.
    static func isLocal(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard let scheme = ["tcp://", "http://"].first(where: endpoint.hasPrefix) else { return false }
        let address = endpoint.dropFirst(scheme.count)
        let host: Substring
        if address.hasPrefix("[") {
            host = address.prefix { $0 != "]" }.dropFirst()
        } else {
            host = address.prefix { $0 != ":" }
        }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Checks the endpoints of a broker without keys.
    /// - Throws: `Settings.ValidationFailure` naming the setting and the endpoint when one binds
    ///   beyond this machine and `insecure` is off; with it on, logs a warning instead.
    static func check(_ endpoints: [(key: String, endpoint: String)], insecure: Bool, logger: Logger) throws {
        let exposed = endpoints.filter { !isLocal($0.endpoint) }
        guard !exposed.isEmpty else { return }
        let listed = exposed.map { "\($0.key) \($0.endpoint)" }.joined(separator: ", ")
        guard insecure else {
            throw Settings.ValidationFailure(
                "\(listed) reaches beyond this machine without keys: anyone who connects could run every plugin's code. Bind 127.0.0.1, configure keys (--secret-key, docs/SECURITY.md), or pass --insecure (security.insecure: true)")
        }
        logger.warning("INSECURE: \(listed) binds beyond this machine without keys (--insecure): anyone who connects can submit tasks, run every plugin's code and pose as any node; see docs/SECURITY.md")
    }

    /// Checks the HTTP endpoint, keys or not: it asks no credential yet, so beyond this machine
    /// it needs `--insecure` too.
    static func checkHTTP(_ address: String, insecure: Bool, logger: Logger) throws {
        guard !isLocal(address) else { return }
        guard insecure else {
            throw Settings.ValidationFailure(
                "broker.http \(address) reaches beyond this machine, and the HTTP endpoint asks no credential yet: anyone could read the metrics. Bind http://127.0.0.1:PORT, or pass --insecure (security.insecure: true)")
        }
        logger.warning("INSECURE: broker.http \(address) binds beyond this machine (--insecure): anyone who connects can read the metrics and health")
    }
}
