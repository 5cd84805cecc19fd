#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Key files as `zerotask keys generate` writes them: `NAME.key` holds the pair (mode 0600),
/// `NAME.pub` the public key alone, each as Z85 text after a comment line.
public enum CurveKeyFile {
    /// A key file that cannot be used, naming the file and why.
    public struct Problem: Error, Sendable, CustomStringConvertible, Equatable {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }

    /// Writes `NAME.key` (mode 0600) and `NAME.pub` into `directory` (created if missing).
    /// - Returns: the two paths. Refuses to overwrite an existing key unless `replace`.
    @discardableResult
    public static func write(_ keys: CurveKeyPair, name: String, directory: String, replace: Bool = false) throws(Problem) -> (secret: String, public: String) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Problem(path: directory, reason: "cannot create the folder (\(error.localizedDescription))")
        }
        let secretPath = (directory as NSString).appendingPathComponent("\(name).key")
        let publicPath = (directory as NSString).appendingPathComponent("\(name).pub")
        try create(secretPath, mode: 0o600, replace: replace, text: """
            # ZeroTask secret key of \(name) (CURVE, Z85). Keep it private: it proves who you are.
            public-key \(keys.publicKey)
            secret-key \(keys.secretKey)

            """)
        try create(publicPath, mode: 0o644, replace: replace, text: """
            # ZeroTask public key of \(name) (CURVE, Z85). Give it to the broker's keys folder.
            \(keys.publicKey)

            """)
        return (secretPath, publicPath)
    }

    /// Reads a secret key file (`NAME.key`): the pair, checked to belong together.
    public static func readSecret(_ path: String) throws(Problem) -> CurveKeyPair {
        let lines = try read(path)
        guard let keys = try pair(in: lines, path: path) else {
            throw Problem(path: path, reason: "no 'secret-key' line (is this a .pub file? a secret key file is NAME.key)")
        }
        return keys
    }

    /// Reads a public key file (`NAME.pub`, or a `NAME.key` whose public half is wanted).
    public static func readPublic(_ path: String) throws(Problem) -> String {
        let lines = try read(path)
        if let keys = try pair(in: lines, path: path) { return keys.publicKey }
        let key = value(of: "public-key", in: lines) ?? lines.first ?? ""
        guard Z85.isKey(key) else { throw Problem(path: path, reason: "not a public key: expected 40 Z85 characters") }
        return key
    }

    /// The pair a secret key file's lines hold, checked to belong together; nil without a
    /// `secret-key` line.
    private static func pair(in lines: [String], path: String) throws(Problem) -> CurveKeyPair? {
        guard let secret = value(of: "secret-key", in: lines) else { return nil }
        guard let keys = try? CurveKeyPair(secretKey: secret) else {
            throw Problem(path: path, reason: "the secret key is not 40 Z85 characters")
        }
        if let stated = value(of: "public-key", in: lines), stated != keys.publicKey {
            throw Problem(path: path, reason: "its public key does not belong to its secret key")
        }
        return keys
    }

    /// The non-blank lines that are not comments, trimmed.
    private static func read(_ path: String) throws(Problem) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// The value of a `KEY VALUE` line. Only white space separates them: `=` is a Z85
    /// character, so a key may begin or end with it.
    private static func value(of key: String, in lines: [String]) -> String? {
        for line in lines where line.hasPrefix(key + " ") || line.hasPrefix(key + "\t") {
            return line.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    private static func create(_ path: String, mode: mode_t, replace: Bool, text: String) throws(Problem) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL)
        let fd = open(path, flags, mode)
        guard fd >= 0 else {
            let e = errno
            throw Problem(path: path, reason: e == EEXIST ? "already exists (pass --force to replace it)" : String(cString: strerror(e)))
        }
        defer { close(fd) }
        // O_CREAT's mode is masked by the umask and ignored for an existing file: set it exactly.
        fchmod(fd, mode)
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw Problem(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
        }
    }
}
