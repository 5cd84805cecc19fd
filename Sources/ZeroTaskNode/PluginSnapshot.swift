#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ZeroTaskProtocol

/// Watches the plugins folder and makes private copies of it for workers to load.
///
/// Workers never `dlopen` the drop folder itself: a `.so` overwritten in place while mapped can
/// crash the process that maps it. Each generation of workers loads its own copy, so replacing,
/// renaming or removing a plugin cannot touch a running task. A copy is taken only once every
/// plugin file has been left alone for the settle time, so a file being written (a slow `cp`)
/// is not taken half-way.
struct PluginSnapshot {
    let source: String
    let root: String
    /// The generation workers start with now (0: none yet).
    private(set) var generation = 0
    /// The newest generation copied (it may still be probed before it becomes `generation`).
    private(set) var taken = 0
    /// What the newest copy was taken from.
    private var lastSeen: [String: String]?

    static let prefix = "zerotask-node-"

    init(source: String) {
        self.source = source
        root = NSTemporaryDirectory() + Self.prefix + "\(getpid())"
    }

    /// Every plugin file (`.so`, `.json`) in `dir` with its version: size, modification and change
    /// times, inode. Any write, rename or `touch` gives a new version.
    static func scan(_ dir: String) -> [String: String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var versions: [String: String] = [:]
        for name in names where name.hasSuffix(".so") || name.hasSuffix(".json") {
            var st = stat()
            guard stat(dir + "/" + name, &st) == 0 else { continue }
            versions[name] = "\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec):\(st.st_ino)"
        }
        return versions
    }

    /// Whether the folder differs from the newest copy and every plugin file in it has been
    /// unchanged for `settle` seconds (by its change time, which no `cp -p` or `touch` can set back).
    func settledChange(settle: Double) -> Bool {
        let now = Self.scan(source)
        guard now != lastSeen else { return false }
        let cutoff = WallInstant.now() - settle
        for name in now.keys {
            var st = stat()
            guard stat(source + "/" + name, &st) == 0 else { return false }
            let changed = WallInstant(seconds: max(Double(st.st_ctim.tv_sec) + Double(st.st_ctim.tv_nsec) / 1e9,
                                                   Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9))
            if changed > cutoff { return false }
        }
        return true
    }

    /// Copies the folder into a new generation directory.
    /// - Returns: its number, its path, and the version of each file copied.
    mutating func takeSnapshot() -> (number: Int, dir: String, versions: [String: String]) {
        taken += 1
        let versions = Self.scan(source)
        lastSeen = versions
        let dir = root + "/gen-\(taken)"
        let fm = FileManager.default
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in versions.keys {
            try? fm.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        return (taken, dir, versions)
    }

    /// Makes generation `n` the one new workers start with.
    mutating func activate(_ n: Int) { generation = n }

    /// `text` with the copy `dir` named as the drop folder (`Plugins/math.so` for
    /// `/tmp/zerotask-node-PID/gen-3/math.so`): users know the drop folder, not the private copies.
    func sourcePath(_ text: String, in dir: String) -> String {
        text.contains(dir) ? text.replacingOccurrences(of: dir, with: source) : text
    }

    func removeGeneration(_ n: Int) {
        try? FileManager.default.removeItem(atPath: root + "/gen-\(n)")
    }

    func removeAll() { try? FileManager.default.removeItem(atPath: root) }

    /// Removes the private copies of nodes that died without cleaning up (killed, crashed): a
    /// folder whose process is gone. Returns the folders removed.
    @discardableResult
    static func removeStale(in temporary: String = NSTemporaryDirectory()) -> [String] {
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = pid_t(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                let path = (temporary.hasSuffix("/") ? temporary : temporary + "/") + name
                if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
            }
        }
        return removed
    }
}
