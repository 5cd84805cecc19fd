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

    /// What an exposed endpoint lets anyone do: the ZeroMQ sockets without keys, and the HTTP
    /// endpoint (which asks no credential yet, keys or not).
    enum Exposure {
        case sockets, http

        var risk: String {
            switch self {
            case .sockets: "without keys: anyone who connects could run every plugin's code"
            case .http: "and the HTTP endpoint asks no credential yet: anyone could read the metrics"
            }
        }

        var remedy: String {
            switch self {
            case .sockets: "Bind 127.0.0.1, configure keys (--secret-key, docs/SECURITY.md), or pass --insecure (security.insecure: true)"
            case .http: "Bind http://127.0.0.1:PORT, or pass --insecure (security.insecure: true)"
            }
        }

        var warning: String {
            switch self {
            case .sockets: "binds beyond this machine without keys (--insecure): anyone who connects can submit tasks, run every plugin's code and pose as any node; see docs/SECURITY.md"
            case .http: "binds beyond this machine (--insecure): anyone who connects can read the metrics and health"
            }
        }
    }

    /// Checks endpoints that must stay on this machine unless `insecure`.
    /// - Throws: `Settings.ValidationFailure` naming the setting and the endpoint when one binds
    ///   beyond this machine and `insecure` is off; with it on, logs a warning instead.
    static func check(_ endpoints: [(key: String, endpoint: String)], _ exposure: Exposure = .sockets, insecure: Bool,
                      logger: Logger) throws {
        let exposed = endpoints.filter { !isLocal($0.endpoint) }
        guard !exposed.isEmpty else { return }
        let listed = exposed.map { "\($0.key) \($0.endpoint)" }.joined(separator: ", ")
        guard insecure else {
            throw Settings.ValidationFailure("\(listed) reaches beyond this machine \(exposure.risk). \(exposure.remedy)")
        }
        logger.warning("INSECURE: \(listed) \(exposure.warning)")
    }
}
