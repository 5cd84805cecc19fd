#if canImport(Glibc)
import Glibc
#endif

/// The few file operations plugin loading needs, on plain POSIX calls (no Foundation).
enum FileSystem {
    /// An OS error, with `strerror`'s text.
    struct Error: Swift.Error, CustomStringConvertible {
        var description: String
        init(_ operation: String, errno code: Int32) {
            description = "\(operation): \(String(cString: strerror(code)))"
        }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The whole file.
    static func read(_ path: String) throws(Error) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Error("cannot open", errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Error("cannot read", errno: errno)
            }
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// The names in a directory (no `.` or `..`), sorted so that load order is stable.
    static func list(_ directory: String) throws(Error) -> [String] {
        guard let dir = opendir(directory) else { throw Error("cannot open directory", errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// `directory/name`, with a `./` prefix when needed so the path always contains a slash.
    static func join(_ directory: String, _ name: String) -> String {
        if directory.isEmpty { return "./" + name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
