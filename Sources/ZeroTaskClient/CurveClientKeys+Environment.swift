import Foundation
import ZeroMQ

extension CurveClientKeys {
    /// The variable naming the broker's public key: a `broker.pub` file or the key itself (Z85).
    public static let brokerKeyVariable = "ZEROTASK_SECURITY_BROKER_KEY"
    /// The variable naming this process's own key file (`NAME.key`).
    public static let secretKeyVariable = "ZEROTASK_SECURITY_SECRET_KEY"

    /// The keys the environment names, as the CLI reads them (`ZEROTASK_SECURITY_BROKER_KEY`,
    /// `ZEROTASK_SECURITY_SECRET_KEY`); nil when neither is set (plain connections).
    /// - Throws: `ZeroTaskClientError.invalidArgument` naming the variable or the file when only
    ///   one is set, or a key file cannot be used.
    public static func environment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> CurveClientKeys? {
        let broker = environment[brokerKeyVariable].flatMap { $0.isEmpty ? nil : $0 }
        let secret = environment[secretKeyVariable].flatMap { $0.isEmpty ? nil : $0 }
        switch (broker, secret) {
        case (nil, nil):
            return nil
        case (let broker?, let secret?):
            do {
                return try CurveClientKeys(serverKey: broker, secretKeyFile: secret)
            } catch {
                throw ZeroTaskClientError.invalidArgument("CURVE keys: \(error)")
            }
        case (nil, _):
            throw ZeroTaskClientError.invalidArgument("\(secretKeyVariable) is set but \(brokerKeyVariable) (the broker's public key) is not")
        case (_, nil):
            throw ZeroTaskClientError.invalidArgument("\(brokerKeyVariable) is set but \(secretKeyVariable) (this client's own key file) is not")
        }
    }
}
