import CSQLite

/// One SQLite connection and its prepared statements, used by one thread. Failures carry
/// SQLite's own message and the statement that failed.
final class SQLiteConnection {
    let path: String
    private(set) var db: OpaquePointer?

    init(path: String) throws(StoreError) {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            db = nil
            throw StoreError(store: "sqlite:\(path)", reason: "cannot open: \(message)")
        }
    }

    func failure(_ what: String) -> StoreError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        return StoreError(store: "sqlite:\(path)", reason: "\(what): \(message)")
    }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws(StoreError) {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw failure(sql) }
    }

    /// The first column of the first row, as text (for PRAGMAs).
    func text(_ sql: String) throws(StoreError) -> String? {
        let s = try prepare(sql)
        guard try s.step() else { return nil }
        return s.text(0)
    }

    func prepare(_ sql: String) throws(StoreError) -> SQLiteStatement {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil) == SQLITE_OK, let stmt else {
            throw failure("prepare \(sql)")
        }
        return SQLiteStatement(stmt, connection: self, sql: sql)
    }

    func close() {
        sqlite3_close_v2(db)
        db = nil
    }

    deinit { close() }
}

/// A prepared statement: bind by 1-based index, step, read columns by 0-based index.
final class SQLiteStatement {
    private var stmt: OpaquePointer!
    private unowned let connection: SQLiteConnection
    let sql: String

    init(_ stmt: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.stmt = stmt
        self.connection = connection
        self.sql = sql
    }

    deinit { finalize() }

    /// Frees the statement; a connection closes only once all of its statements are finalized.
    func finalize() {
        if stmt != nil { sqlite3_finalize(stmt) }
        stmt = nil
    }

    func bind(_ i: Int32, _ v: String?) {
        guard let v else { sqlite3_bind_null(stmt, i); return }
        var s = v
        s.withUTF8 { b in
            _ = sqlite3_bind_text(stmt, i, UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(b.count), zt_sqlite_transient())
        }
    }

    func bind(_ i: Int32, _ v: [UInt8]?) {
        guard let v else { sqlite3_bind_null(stmt, i); return }
        v.withUnsafeBufferPointer { b in
            _ = sqlite3_bind_text(stmt, i, UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self),
                Int32(b.count), zt_sqlite_transient())
        }
    }

    func bind(_ i: Int32, _ v: Int64?) {
        guard let v else { sqlite3_bind_null(stmt, i); return }
        sqlite3_bind_int64(stmt, i, v)
    }

    func bind(_ i: Int32, _ v: Double?) {
        guard let v else { sqlite3_bind_null(stmt, i); return }
        sqlite3_bind_double(stmt, i, v)
    }

    /// Advances; true while a row is available.
    @discardableResult
    func step() throws(StoreError) -> Bool {
        switch sqlite3_step(stmt) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let e = connection.failure(sql)
            sqlite3_reset(stmt)
            throw e
        }
    }

    /// Runs a statement that returns no rows, then makes it ready for the next use.
    func run() throws(StoreError) {
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        try step()
    }

    func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }
    func int64(_ c: Int32) -> Int64 { sqlite3_column_int64(stmt, c) }
    func double(_ c: Int32) -> Double? { isNull(c) ? nil : sqlite3_column_double(stmt, c) }

    func text(_ c: Int32) -> String? {
        guard let p = sqlite3_column_text(stmt, c) else { return nil }
        return String(cString: p)
    }

    func bytes(_ c: Int32) -> [UInt8]? {
        guard let p = sqlite3_column_text(stmt, c) else { return nil }
        let n = Int(sqlite3_column_bytes(stmt, c))
        return Array(UnsafeBufferPointer(start: p, count: n))
    }
}
