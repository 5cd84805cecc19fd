import ArgumentParser
import ZeroMQ

/// `zerotask keys generate NAME [--dir DIR]`: CURVE key files for a broker, node, client or admin.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE keys (see docs/SECURITY.md).",
        subcommands: [Generate.self, Token.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (secret, mode 0600) and NAME.pub (public) for a peer named NAME."
        )

        @Argument(help: "The peer's name: for a client key, its tenant.")
        var name: String

        @Option(help: "The folder to write the two files to.")
        var dir = "."

        @Flag(help: "Replace existing key files of that name.")
        var force = false

        func validate() throws {
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 != UInt8(ascii: "/") }), !name.hasPrefix(".") else {
                throw ValidationError("NAME '\(name)' must be a plain file name (no spaces, no '/', not starting with '.')")
            }
        }

        func run() throws {
            let keys = try CurveKeyPair.generate()
            do {
                let paths = try CurveKeyFile.write(keys, name: name, directory: dir, replace: force)
                print("\(paths.secret)  (secret: keep it on this machine only)")
                print("\(paths.public)  (public: \(keys.publicKey))")
            } catch {
                throw CLIFailure(.usage, error.description).exit()
            }
        }
    }
}
