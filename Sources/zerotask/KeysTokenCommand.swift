import ArgumentParser
import ZeroMQ
import ZeroTaskHTTP

extension KeysCommand {
    /// `zerotask keys token BROKER.key`: the dashboard's admin token of the broker with that key.
    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the dashboard's admin token of the broker whose secret key is KEYFILE (open http://HOST:PORT/?token=TOKEN)."
        )

        @Argument(help: "The broker's secret key file (its security.secret_key, NAME.key).")
        var keyFile: String

        func run() throws {
            do {
                print(AdminCredential(brokerKeys: try CurveKeyFile.readSecret(keyFile)).token)
            } catch {
                throw CLIFailure(.usage, error.description).exit()
            }
        }
    }
}
