#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import ArgumentParser
import Foundation
import Synchronization
import ZeroTaskClient
import ZeroTaskSystem

/// The flags every client command shares: where the broker is, who we are, how long to wait.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("broker"), help: ArgumentHelp(
        "The broker's request endpoint, or several separated by commas to fail over between (default: $ZEROTASK_BROKER, else client.broker in the configuration, else \(Settings.Defaults.clientBroker)).", valueName: "tcp://HOST:5555[,tcp://HOST2:5555]"))
    var brokerFlag: String?

    @Option(help: ArgumentHelp(
        "The broker's publish endpoint (default: the request port plus one).", valueName: "ENDPOINT"))
    var publish: String?

    @Option(help: ArgumentHelp("Seconds to wait for the broker to answer a request.", valueName: "S"))
    var timeout: Double = 5

    @Option(name: .customLong("client-id"), help: ArgumentHelp(
        "The client id (env ZEROTASK_CLIENT_ID). submit/status/result/cancel default to a stable per-user id, cli-USER-TOKEN (the token random, kept in ~/.config/zerotask/client-id), so they see each other's tasks; other commands use a fresh id.",
        valueName: "ID"))
    var clientIDFlag: String?

    @Option(help: ArgumentHelp("Configuration file (default: $ZEROTASK_CONFIG, else config/zerotask.yaml).", valueName: "PATH"))
    var config: String?

    @Option(name: .customLong("secret-key"), help: ArgumentHelp(
        "A broker with keys: this client's own key file, NAME.key (security.secret_key); with --broker-key.", valueName: "PATH"))
    var secretKey: String?

    @Option(name: .customLong("broker-key"), help: ArgumentHelp(
        "A broker with keys: its public key, broker.pub or the key in Z85 (security.broker_key); with --secret-key.", valueName: "PATH"))
    var brokerKey: String?

    /// The broker endpoint — the flag, else $ZEROTASK_BROKER, else $ZEROTASK_CLIENT_BROKER or
    /// `client.broker` in the configuration file, else the default — and where it came from, so
    /// that a bad one is reported where the user can fix it.
    func brokerSetting(_ settings: Settings) -> (endpoint: String, source: String) {
        if let flag = brokerFlag { return (flag, "--broker") }
        if let env = ProcessInfo.processInfo.environment["ZEROTASK_BROKER"], !env.isEmpty { return (env, "ZEROTASK_BROKER") }
        if let configured = settings.raw("client.broker"), !configured.isEmpty { return (configured, "client.broker") }
        return (Settings.Defaults.clientBroker, "the default broker")
    }

    /// Refuses an endpoint libzmq cannot take because it lacks its transport (`127.0.0.1:5555`,
    /// `localhost`), naming where it came from and how to write it.
    static func checkScheme(_ endpoint: String, source: String) throws(CLIFailure) {
        guard !endpoint.contains("://") else { return }
        let example = endpoint.isEmpty ? "tcp://127.0.0.1:5555" : "tcp://" + endpoint + (endpoint.contains(":") ? "" : ":5555")
        throw CLIFailure(.usage,
            "\(source) \(endpoint.isEmpty ? "is empty" : "\"\(endpoint)\" has no transport"): write it as a ZeroMQ endpoint with its scheme, e.g. \(source.hasPrefix("-") ? source + " " : "")\(example)")
    }

    /// A failover list of brokers (`tcp://a:5555,tcp://b:5555`; one endpoint is a list of one),
    /// each entry checked, from `source` (a flag, variable or configuration line).
    /// - Throws: `CLIFailure` naming `source` and the entry that is no endpoint.
    static func brokerList(_ text: String, source: String) throws(CLIFailure) -> BrokerEndpoints {
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if entries.count == 1 { try checkScheme(entries[0], source: source) }
        do {
            return try BrokerEndpoints(entries)
        } catch {
            throw CLIFailure(.usage, "\(source): \(error)")
        }
    }

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    /// The client id to connect as: the flag, the environment, or (for commands that must find
    /// tasks across invocations) the stable per-user id; nil lets the broker pick one.
    func clientID(stable: Bool) -> String? {
        if let id = clientIDFlag { return id }
        if let id = ProcessInfo.processInfo.environment["ZEROTASK_CLIENT_ID"], !id.isEmpty { return id }
        return stable ? Self.stableClientID() : nil
    }

    /// This user's CLI client id: `cli-USER-TOKEN`, the token random and kept in
    /// `$XDG_CONFIG_HOME/zerotask/client-id` (else `~/.config/zerotask/client-id`, mode 0600),
    /// so that `submit` and a later `status` share it but nobody can derive it from the user and
    /// host names. Where that file cannot be kept, `cli-USER-HOST`.
    static func stableClientID(environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        var user = env["USER"] ?? env["LOGNAME"] ?? ""
        if user.isEmpty, let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { user = String(cString: name) }
        if user.isEmpty { user = "uid\(getuid())" }
        if let file = clientIDFile(env), let kept = CLIClientIDFile.read(file) ?? CLIClientIDFile.create(file, user: cleaned(user)) {
            return kept
        }
        return cleaned("cli-\(user)-\(HostName.current() ?? "localhost")")
    }

    private static func clientIDFile(_ env: [String: String]) -> String? {
        if let config = env["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/zerotask/client-id" }
        guard let home = env["HOME"], home.hasPrefix("/") else { return nil }
        return home + "/.config/zerotask/client-id"
    }

    /// `raw` with characters a client id may not hold replaced by `_`, at most 100 of them.
    static func cleaned(_ raw: String) -> String {
        let text = String(raw.unicodeScalars.map { c -> Character in
            c.isASCII && (CharacterSet.alphanumerics.contains(c) || "._:-".unicodeScalars.contains(c)) ? Character(c) : "_"
        })
        return String(text.prefix(100))
    }

    /// Connects, retrying while the client id is held by another connection (another zerotask
    /// command using the same id, which frees it when it exits) until `--timeout` passes.
    func connect(stableID: Bool) async throws -> ZeroTaskClient {
        let id = clientID(stable: stableID)
        // Read (and checked) even when flags decide: a broken file is reported, never skipped.
        let settings = try Settings(file: config)
        let (broker, source) = brokerSetting(settings)
        let brokers = try Self.brokerList(broker, source: source)
        if let publish { try Self.checkScheme(publish, source: "--publish") }
        let curve = try settings.clientCurve(secretKey: secretKey, brokerKey: brokerKey)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            do {
                return try await ZeroTaskClient(
                    brokers: brokers, publish: publish, clientID: id, requestTimeout: .milliseconds(Int64(timeout * 1000)),
                    curve: curve)
            } catch ZeroTaskClientError.invalidRequest(let e)
                where e.code == -32010 && e.message.contains("taken") && Date() < deadline
            {
                try await Task.sleep(for: .milliseconds(200))
            } catch ZeroTaskClientError.invalidRequest(let e) where e.code == -32010 && e.message.contains("taken") {
                throw CLIFailure(.usage,
                    "client id \(id ?? "?") is in use by another connection (another zerotask command, or one that exited without disconnecting less than 30 s ago); wait and retry, or pass --client-id ID")
            }
        }
    }

    /// Connects, runs `body`, and disconnects (so the next command can use the same id at
    /// once), also when interrupted with Ctrl-C. Errors become one line on stderr and an exit code.
    func withClient<T>(stableID: Bool, _ body: (ZeroTaskClient) async throws -> T) async throws -> T {
        try await CLIFailure.reporting(connection: self) {
            let client = try await connect(stableID: stableID)
            let interrupt = InterruptHandler { await client.close() }
            defer { interrupt.cancel() }
            do {
                let value = try await body(client)
                await client.close()
                return value
            } catch {
                // Interrupted: the handler is disconnecting and will exit; the error is its doing.
                if let sig = InterruptHandler.received { await InterruptHandler.waitForExit(sig) }
                await client.close()
                throw error
            }
        }
    }
}

/// Disconnects cleanly on SIGINT/SIGTERM, then exits 130/143 as a shell expects.
/// (Unchecked: dispatch sources are thread-safe but not marked Sendable.)
final class InterruptHandler: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]
    private static let signalled = Atomic<Int32>(0)

    /// The signal being handled, if any.
    static var received: Int32? {
        let s = signalled.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// Lets the handler finish its disconnect and exit; exits by itself if that takes too long.
    static func waitForExit(_ sig: Int32) async -> Never {
        try? await Task.sleep(for: .seconds(5))
        exit(128 + sig)
    }

    init(_ cleanup: @escaping @Sendable () async -> Void) {
        sources = [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                InterruptHandler.signalled.store(sig, ordering: .releasing)
                Task {
                    await cleanup()
                    exit(128 + sig)
                }
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
