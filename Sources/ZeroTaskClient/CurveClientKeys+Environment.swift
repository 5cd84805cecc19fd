import Foundation
import ZeroMQ

extension CurveClientKeys {
    /// The variable naming the broker's public key: a `broker.pub` file or the key itself (Z85).
    public static let brokerKeyVariable = "ZEROTASK_SECURITY_BROKER_KEY"
    /// The variable naming this process's own key file (`NAME.key`).
    public static let secretKeyVariable = "ZEROTASK_SECURITY_SECRET_KEY"

    /// The keys the environment names, as the CLI reads them (`ZEROTASK_SECURITY_BROKER_KEY`,
    /// `ZEROTASK_SECURITY_SECRET_KEY`); nil when neither is set (plain connections).
    /// - Throws: `ZeroTaskClientError.invalidArgument` naming the variable when only one is set,
    ///   or the file when a key file cannot be used.
    public static func environment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CurveClientKeys? {
        do {
            return try configured(serverKey: environment[brokerKeyVariable], secretKeyFile: environment[secretKeyVariable],
                names: (brokerKeyVariable, secretKeyVariable))
        } catch {
            throw ZeroTaskClientError.invalidArgument("CURVE keys: \(error)")
        }
    }
}
