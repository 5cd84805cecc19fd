#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ZeroTaskProtocol

/// The file that keeps the CLI's per-user client id (see `ConnectionOptions.stableClientID`).
enum CLIClientIDFile {
    /// The id the file holds, if it holds a valid one.
    static func read(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return Identifier.isValidID(id) ? id : nil
    }

    /// Creates the file (its folder mode 0700, the file 0600, never over an existing one) with
    /// a new id for `user`; nil when it cannot. Two commands creating it at once agree: the one
    /// that loses the race reads the winner's.
    static func create(_ path: String, user: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let token = String((0..<16).map { _ in alphabet.randomElement()! })
        let id = String("cli-\(user.prefix(60))-\(token)")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return errno == EEXIST ? read(path) : nil }
        let bytes = Array((id + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return written == bytes.count ? id : nil
    }
}
