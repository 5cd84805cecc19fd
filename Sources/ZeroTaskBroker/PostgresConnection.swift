import CPostgres
import Foundation

/// One libpq connection, used from one thread at a time, with the few calls the store needs:
/// plain statements, parameterised queries (text in, text out) and pipelines, which send many
/// statements in one round trip and run them as one transaction.
final class PostgresConnection {
    /// A statement with its parameters as text (nil: SQL NULL).
    struct Statement {
        var sql: String
        var params: [String?]

        init(_ sql: String, _ params: [String?] = []) {
            self.sql = sql
            self.params = params
        }
    }

    /// The URL without its password: what logs and errors say.
    let name: String
    private var connection: OpaquePointer?
    /// Whether statements are prepared once per session and then only executed (no parsing
    /// and planning on every commit). Off behind a transaction-mode pooler older than
    /// PgBouncer 1.21, where the next transaction may land on a session without them.
    var prepares = true
    /// The statements this session has prepared, by SQL text, and their names.
    private var prepared: [String: String] = [:]
    /// At most this many (a statement whose text changes call by call is not prepared).
    private static let maxPrepared = 64

    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST:PORT/DB`; libpq also takes
    /// `PGPASSWORD` and `~/.pgpass`). `password`, when given, overrides the URL's.
    init(url: String, password: String? = nil) throws(StoreError) {
        name = Self.redacted(url)
        var keys: [String?] = ["dbname", "application_name", "connect_timeout"]
        var values: [String?] = [url, "zerotask", "10"]
        if let password {
            keys.append("password")
            values.append(password)
        }
        // Both lists end with a NULL entry, as PQconnectdbParams wants.
        let c = Self.withCStrings(keys + [nil]) { k in Self.withCStrings(values + [nil]) { v in PQconnectdbParams(k, v, 1) } }
        connection = c
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let reason = c.map { Self.message($0) } ?? "out of memory"
            PQfinish(c)
            connection = nil
            throw StoreError(store: name, reason: "cannot connect: \(reason)")
        }
        // The store's statements say what they mean; no notices on stderr.
        PQsetNoticeProcessor(c, { _, _ in }, nil)
    }

    deinit { close() }

    func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    /// Whether the server is still there as far as libpq knows (a failed call tells it).
    var isHealthy: Bool { connection.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Connects again after the server went away (a restart): the same parameters, a new session.
    func reconnect() throws(StoreError) {
        guard let c = connection else { throw StoreError(store: name, reason: "the connection is closed") }
        PQreset(c)
        prepared.removeAll()
        guard PQstatus(c) == CONNECTION_OK else {
            throw StoreError(store: name, reason: "cannot connect again: \(Self.message(c))")
        }
    }

    /// Runs SQL without parameters (it may hold several statements).
    func execute(_ sql: String) throws(StoreError) {
        let c = try live()
        let r = PQexec(c, sql)
        defer { PQclear(r) }
        try check(r, sql)
    }

    /// Runs one statement and returns its rows, every value as text (nil for NULL).
    func query(_ sql: String, _ params: [String?] = []) throws(StoreError) -> [[String?]] {
        let c = try live()
        let r = Self.withCStrings(params) { values in
            PQexecParams(c, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(r) }
        try check(r, sql)
        return Self.rows(r)
    }

    /// A result's rows, every value as text (nil for NULL).
    private static func rows(_ r: OpaquePointer?) -> [[String?]] {
        let rows = Int(PQntuples(r)), columns = Int(PQnfields(r))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for i in 0..<Int32(rows) {
            var row: [String?] = []
            row.reserveCapacity(columns)
            for j in 0..<Int32(columns) {
                row.append(PQgetisnull(r, i, j) != 0 ? nil : String(cString: PQgetvalue(r, i, j)))
            }
            out.append(row)
        }
        return out
    }

    /// Sends the statements in one round trip; they run as one implicit transaction, so either
    /// all of them take effect or (on the first error, which is thrown) none. Returns each
    /// statement's rows, in order.
    @discardableResult
    func pipeline(_ statements: [Statement]) throws(StoreError) -> [[[String?]]] {
        guard !statements.isEmpty else { return [] }
        let c = try live()
        guard PQenterPipelineMode(c) == 1 else { throw StoreError(store: name, reason: "cannot enter pipeline mode: \(Self.message(c))") }
        defer { _ = PQexitPipelineMode(c) }
        // A statement new to this session is prepared in the same pipeline, just before it runs;
        // it counts as prepared once the server said so.
        var preparing: [String?] = []
        var named: [String: String] = [:]
        for s in statements {
            var statement = prepared[s.sql] ?? named[s.sql]
            if statement == nil, prepares, prepared.count + named.count < Self.maxPrepared {
                let n = "zt\(prepared.count + named.count)"
                guard PQsendPrepare(c, n, s.sql, Int32(s.params.count), nil) == 1 else {
                    throw StoreError(store: name, reason: "cannot send a statement: \(Self.message(c))")
                }
                named[s.sql] = n
                statement = n
                preparing.append(n)
            } else {
                preparing.append(nil)
            }
            let sent = Self.withCStrings(s.params) { values in
                if let statement { PQsendQueryPrepared(c, statement, Int32(s.params.count), values, nil, nil, 0) }
                else { PQsendQueryParams(c, s.sql, Int32(s.params.count), nil, values, nil, nil, 0) }
            }
            guard sent == 1 else { throw StoreError(store: name, reason: "cannot send a statement: \(Self.message(c))") }
        }
        guard PQpipelineSync(c) == 1 else { throw StoreError(store: name, reason: "cannot send the pipeline: \(Self.message(c))") }
        var failure: StoreError?
        var results: [[[String?]]] = []
        for (s, preparedAs) in zip(statements, preparing) {
            if let preparedAs {
                var ok = false
                while let r = PQgetResult(c) {
                    let status = PQresultStatus(r)
                    if status == PGRES_COMMAND_OK { ok = true }
                    if failure == nil && status != PGRES_COMMAND_OK && status != PGRES_PIPELINE_ABORTED {
                        failure = StoreError(store: name, reason: "\(Self.message(c, r)) (preparing: \(Self.abbreviated(s.sql)))")
                    }
                    PQclear(r)
                }
                if ok { prepared[s.sql] = preparedAs }
            }
            // Each statement's results, then a NULL that ends them.
            var rows: [[String?]] = []
            while let r = PQgetResult(c) {
                let status = PQresultStatus(r)
                if status == PGRES_TUPLES_OK { rows += Self.rows(r) }
                if failure == nil && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_PIPELINE_ABORTED {
                    failure = StoreError(store: name, reason: "\(Self.message(c, r)) (in: \(Self.abbreviated(s.sql)))")
                }
                PQclear(r)
            }
            if PQstatus(c) != CONNECTION_OK { throw failure ?? StoreError(store: name, reason: "connection lost: \(Self.message(c))") }
            results.append(rows)
        }
        // The sync point's own result closes the pipeline.
        while let r = PQgetResult(c) {
            let synced = PQresultStatus(r) == PGRES_PIPELINE_SYNC
            PQclear(r)
            if synced { break }
        }
        if let failure { throw failure }
        return results
    }

    /// The connection's socket, for a poll loop (`zmq_poll` takes it as a plain fd): it turns
    /// readable when a notification (or anything else) arrives. -1 when closed.
    var socket: Int32 { connection.map { PQsocket($0) } ?? -1 }

    /// A notification that `LISTEN` asked for.
    struct Notification: Equatable {
        var channel: String
        var payload: String
        /// The server process of the session that sent it (`backendPID` there).
        var senderPID: Int32 = 0
    }

    /// The server process serving this session (changes when it connects again).
    var backendPID: Int32 { connection.map { PQbackendPID($0) } ?? 0 }

    /// Reads what the socket holds without blocking and returns the notifications received.
    func notifications() throws(StoreError) -> [Notification] {
        let c = try live()
        guard PQconsumeInput(c) == 1 else { throw StoreError(store: name, reason: "connection lost: \(Self.message(c))") }
        var out: [Notification] = []
        while let n = PQnotifies(c) {
            out.append(Notification(channel: String(cString: n.pointee.relname), payload: String(cString: n.pointee.extra),
                senderPID: n.pointee.be_pid))
            PQfreemem(n)
        }
        return out
    }

    private func live() throws(StoreError) -> OpaquePointer {
        guard let c = connection else { throw StoreError(store: name, reason: "the connection is closed") }
        return c
    }

    private func check(_ r: OpaquePointer?, _ sql: String) throws(StoreError) {
        let status = PQresultStatus(r)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw StoreError(store: name, reason: "\(Self.message(connection, r)) (in: \(Self.abbreviated(sql)))")
        }
    }

    private static func message(_ c: OpaquePointer?, _ r: OpaquePointer? = nil) -> String {
        let text = r.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? ""
        let fallback = c.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? ""
        let chosen = text.isEmpty ? fallback : text
        return chosen.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "; ")
    }

    private static func abbreviated(_ sql: String) -> String {
        let line = sql.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        return line.count > 80 ? String(line.prefix(77)) + "..." : line
    }

    /// `postgres://user:secret@host/db` → `postgres://user@host/db`.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let userInfo = url[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + String(url[at...])
    }

    private static func withCStrings<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies = strings.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
