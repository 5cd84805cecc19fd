import Foundation

/// Runs the built `zerotask` executable as a subprocess and captures what it printed.
struct CLIRunner {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    struct NotFound: Error, CustomStringConvertible {
        var tried: [String]
        var description: String { "zerotask executable not found; tried \(tried.joined(separator: ", ")) (set ZEROTASK_BIN)" }
    }

    let executable: URL

    /// Finds `zerotask` beside this test binary (any scratch path), else in the repository's
    /// build folders (the newest), else `$ZEROTASK_BIN`.
    init() throws {
        var candidates: [URL] = []
        if let bin = ProcessInfo.processInfo.environment["ZEROTASK_BIN"] { candidates.append(URL(fileURLWithPath: bin)) }
        let selfExe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(selfExe.deletingLastPathComponent().appendingPathComponent("zerotask"))
        // On some platforms the tests run inside a bundle: look beside it too.
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("zerotask"))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("zerotask"))
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fm = FileManager.default
        let builds = ((try? fm.contentsOfDirectory(atPath: repo.path)) ?? []).filter { $0.hasPrefix(".build") }
        let built = builds.map { repo.appendingPathComponent($0).appendingPathComponent("debug/zerotask") }
            .filter { fm.isExecutableFile(atPath: $0.path) }
            .sorted { Self.modified($0) > Self.modified($1) }
        candidates += built
        guard let found = candidates.first(where: { fm.isExecutableFile(atPath: $0.path) }) else {
            throw NotFound(tried: candidates.map(\.path))
        }
        executable = found
    }

    private static func modified(_ url: URL) -> Date {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
    }

    /// Runs `zerotask ARGS…`; kills it (by its pid) if it runs longer than `limit` seconds.
    func run(_ args: [String], environment: [String: String] = [:], limit: Double = 120) async throws -> Output {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zt-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)

        let process = Process()
        process.executableURL = executable
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["ZEROTASK_BROKER"] = nil
        env["ZEROTASK_CLIENT_ID"] = nil
        env["SWIFT_BACKTRACE"] = "enable=no"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning {
            if Date() > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try out.close()
        try err.close()
        return Output(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
