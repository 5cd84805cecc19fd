#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A throwaway PostgreSQL server for tests: a fresh cluster (`initdb`) in a temporary folder,
/// listening on 127.0.0.1 on a free port, ended by its PID. Debian's `postgresql` package
/// (scripts/install-deps.sh installs it) provides the binaries; as root the server runs as the
/// `postgres` user (`setpriv`, which execs, so the PID is the server's own).
///
/// Connections from the host need a password (SCRAM), so tests can check how the store finds it.
public final class PostgresServer: @unchecked Sendable {
    public static let user = "zerotask"
    public static let password = "zt-test-secret"

    public let directory: String
    public let port: Int
    private var server: ChildProcess?
    private let bin: String

    /// One server for the whole test process, started on first use; tests take a database each.
    /// It is stopped when the test process exits (statics are never deinitialised).
    public static let shared: Result<PostgresServer, Error> = Result {
        let server = try PostgresServer()
        atexit { PostgresServer.stopShared() }
        return server
    }

    private static func stopShared() {
        guard case .success(let server) = shared else { return }
        server.stop()
        try? FileManager.default.removeItem(atPath: server.directory)
    }

    /// Creates and starts a cluster.
    public init() throws {
        bin = try Self.binaries()
        directory = FixturePlugins.temporaryDirectory("zt-pg")
        let endpoint = try unusedEndpoint()
        port = Int(endpoint.split(separator: ":").last!)!
        let data = directory + "/data"
        let pwfile = directory + "/pwfile"
        try Self.password.write(toFile: pwfile, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try Self.handOver(directory)
        let initdb = try ChildProcess(Self.asServerUser[0], Array(Self.asServerUser.dropFirst()) + [
            bin + "/initdb", "-D", data, "-U", Self.user, "--pwfile", pwfile, "--auth-local=trust",
            "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C",
        ])
        guard initdb.waitForExit(seconds: 120) == 0 else { throw Failed(description: "initdb failed: \(initdb.output)") }
        try start()
    }

    /// `postgres://zerotask:PASSWORD@127.0.0.1:PORT/DATABASE`.
    public func url(_ database: String = "postgres", withPassword: Bool = true) -> String {
        "postgres://\(Self.user)\(withPassword ? ":" + Self.password : "")@127.0.0.1:\(port)/\(database)"
    }

    /// A new empty database; returns its URL.
    public func createDatabase(_ prefix: String = "zt") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        try sql("CREATE DATABASE \(name)")
        return url(name)
    }

    /// Runs SQL with `psql` (as the test user, over TCP) and returns what it printed.
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") throws -> String {
        let psql = try ChildProcess(bin + "/psql", [
            "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", Self.user,
            "-d", database, "-c", statement,
        ], environment: ["PGPASSWORD": Self.password])
        guard psql.waitForExit(seconds: 60) == 0 else { throw Failed(description: "psql \(statement): \(psql.output)") }
        return psql.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts the server on its folder and port and waits until it accepts connections.
    public func start() throws {
        let s = try ChildProcess(Self.asServerUser[0], Array(Self.asServerUser.dropFirst()) + [
            bin + "/postgres", "-D", directory + "/data", "-p", String(port), "-h", "127.0.0.1", "-k", directory,
            "-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB",
        ])
        server = s
        guard eventually(60, { s.output.contains("ready to accept connections") || !s.isRunning }), s.isRunning else {
            throw Failed(description: "postgres did not start: \(s.output)")
        }
    }

    /// Stops the server: `SIGINT` is PostgreSQL's fast shutdown (sessions are ended, nothing lost).
    public func stop() {
        guard let s = server else { return }
        s.signal(SIGINT)
        if s.waitForExit(seconds: 60) == nil { s.stop() }
        server = nil
    }

    /// Stops and starts again on the same folder and port: clients' sessions break.
    public func restart() throws {
        stop()
        try start()
    }

    /// The server's PID while it runs.
    public var pid: pid_t? { server?.pid }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// The newest installed PostgreSQL's binaries folder.
    static func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/postgres") else {
            throw Failed(description: "PostgreSQL is not installed (no \(root)/*/bin/postgres); run scripts/install-deps.sh")
        }
        return "\(root)/\(newest)/bin"
    }

    /// How to run a server binary: as root, as the `postgres` user (PostgreSQL refuses root).
    static let asServerUser: [String] = getuid() == 0
        ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
        : ["/usr/bin/env", "--"]

    /// Gives the folder to the `postgres` user when running as root.
    private static func handOver(_ path: String) throws {
        guard getuid() == 0 else { return }
        guard let pw = getpwnam("postgres") else { throw Failed(description: "no postgres user (is the postgresql package installed?)") }
        for item in [path] + ((FileManager.default.subpaths(atPath: path) ?? []).map { path + "/" + $0 }) {
            guard chown(item, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
                throw Failed(description: "cannot give \(item) to the postgres user: \(String(cString: strerror(errno)))")
            }
        }
    }
}
