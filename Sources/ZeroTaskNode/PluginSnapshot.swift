#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Watches the plugins folder and makes private copies of it for workers to load.
///
/// Workers never `dlopen` the drop folder itself: a `.so` overwritten in place while mapped can
/// crash the process that maps it. Each generation of workers loads its own copy, so replacing,
/// renaming or removing a plugin cannot touch a running task.
struct PluginSnapshot {
    let source: String
    let root: String
    private(set) var generation = 0
    private var lastSeen: [String]?
    private var pending: [String]?

    init(source: String) {
        self.source = source
        root = NSTemporaryDirectory() + "zerotask-node-\(getpid())"
    }

    /// A signature of the folder's plugin files: name, size, modification time, inode.
    static func signature(_ dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".so") || $0.hasSuffix(".json") }.sorted().map { name in
            var st = stat()
            guard stat(dir + "/" + name, &st) == 0 else { return name }
            return "\(name):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ino)"
        }
    }

    /// Copies the folder into a new generation directory and returns its path.
    mutating func takeSnapshot() -> String {
        generation += 1
        lastSeen = Self.signature(source)
        pending = nil
        let dir = root + "/gen-\(generation)"
        let fm = FileManager.default
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in (try? fm.contentsOfDirectory(atPath: source)) ?? [] where name.hasSuffix(".so") || name.hasSuffix(".json") {
            try? fm.copyItem(atPath: source + "/" + name, toPath: dir + "/" + name)
        }
        return dir
    }

    /// True when the folder changed and has stayed the same since the previous check (so a
    /// plugin still being written is not loaded half-way).
    mutating func changedAndSettled() -> Bool {
        let now = Self.signature(source)
        guard now != lastSeen else {
            pending = nil
            return false
        }
        defer { pending = now }
        return pending == now
    }

    func removeGeneration(_ n: Int) {
        try? FileManager.default.removeItem(atPath: root + "/gen-\(n)")
    }

    func removeAll() { try? FileManager.default.removeItem(atPath: root) }
}
