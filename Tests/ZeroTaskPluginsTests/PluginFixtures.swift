import Foundation
import Synchronization
import ZeroTaskTestSupport

/// Compiles the C fixtures in `Fixtures/` into real plugins, for this suite and for any later
/// suite (the node's worker tests) that needs misbehaving plugins: copy this file, or call
/// `PluginFixtures.makeDirectory(["types", "misbehave"])`.
///
/// Each fixture is compiled once per test process; every directory gets its own copies, because
/// `dlopen` shares one instance per file and tests must not share a plugin's global state.
enum PluginFixtures {
    /// `Tests/ZeroTaskPluginsTests/Fixtures`.
    static let sourceDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
    /// The repository root, found from this file's path.
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    private static let cache = Mutex<[String: String]>([:])
    private static let cacheDirectory = makeTemporaryDirectory("zt-fixtures-cache")

    /// A fresh temporary directory.
    static func makeTemporaryDirectory(_ prefix: String = "zt-plugins") -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Compiles `Fixtures/NAME.c` into `directory/NAME.so` and copies `NAME.json` beside it.
    static func compile(_ name: String, into directory: String) throws {
        try FixturePlugins.compile(name, from: sourceDirectory, into: directory)
    }

    /// A new directory holding the named fixtures, compiled (each built once per process, copied here).
    static func makeDirectory(_ names: [String]) throws -> String {
        let directory = makeTemporaryDirectory()
        for name in names {
            let built = try cachedBuild(name)
            try FileManager.default.copyItem(atPath: built, toPath: "\(directory)/\(name).so")
            let json = "\(sourceDirectory)/\(name).json"
            if FileManager.default.fileExists(atPath: json) {
                try FileManager.default.copyItem(atPath: json, toPath: "\(directory)/\(name).json")
            }
        }
        return directory
    }

    private static func cachedBuild(_ name: String) throws -> String {
        if let path = cache.withLock({ $0[name] }) { return path }
        let dir = "\(cacheDirectory)/\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try compile(name, into: dir)
        let path = "\(dir)/\(name).so"
        return cache.withLock { c in
            if let existing = c[name] { return existing }
            c[name] = path
            return path
        }
    }

    /// Runs a command to completion; throws with its output when it fails.
    static func run(_ executable: String, _ arguments: [String]) throws { try Command.run(executable, arguments) }
}
