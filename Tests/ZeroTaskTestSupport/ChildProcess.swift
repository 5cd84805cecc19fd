#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A process a test started (the `zerotask` executable, a compiler, a Python peer), ended by
/// its PID only.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    /// Where its stdout and stderr go.
    public let logPath: String

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("zt-proc-\(UUID().uuidString).log").path
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: pid_t { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ sig: Int32) { _ = kill(pid, sig) }

    /// Waits up to `seconds` for the process to end; returns its exit status, or nil if it runs on.
    @discardableResult
    public func waitForExit(seconds: Double = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Everything it printed so far.
    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Ends it for sure (SIGKILL) if it still runs.
    public func stop() {
        if process.isRunning {
            signal(SIGKILL)
            waitForExit(seconds: 10)
        }
    }

    deinit { stop() }
}

/// Where the build put the `zerotask` executable under test.
public enum Binaries {
    public struct NotFound: Error, CustomStringConvertible {
        public var tried: [String]
        public var description: String { "zerotask executable not found; tried \(tried.joined(separator: ", ")) (set ZEROTASK_BIN)" }
    }

    /// `$ZEROTASK_BIN`, else `zerotask` beside this test binary (any scratch path), else the
    /// newest in the repository's build folders.
    public static func locateZerotask() throws -> String {
        var candidates: [URL] = []
        if let bin = ProcessInfo.processInfo.environment["ZEROTASK_BIN"] { candidates.append(URL(fileURLWithPath: bin)) }
        let selfExe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(selfExe.deletingLastPathComponent().appendingPathComponent("zerotask"))
        // On some platforms the tests run inside a bundle: look beside it too.
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("zerotask"))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent("zerotask"))
        let fm = FileManager.default
        let repo = URL(fileURLWithPath: repositoryRoot)
        let builds = ((try? fm.contentsOfDirectory(atPath: repo.path)) ?? []).filter { $0.hasPrefix(".build") }
        func modified(_ url: URL) -> Date {
            ((try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date) ?? .distantPast
        }
        candidates += builds.map { repo.appendingPathComponent($0).appendingPathComponent("debug/zerotask") }
            .filter { fm.isExecutableFile(atPath: $0.path) }
            .sorted { modified($0) > modified($1) }
        guard let found = candidates.first(where: { fm.isExecutableFile(atPath: $0.path) }) else {
            throw NotFound(tried: candidates.map(\.path))
        }
        return found.path
    }

    /// The `zerotask` executable under test (a path that fails loudly when it was not found).
    public static var zerotask: String { (try? locateZerotask()) ?? "/nonexistent/zerotask" }

    /// The repository root, found from this file's path.
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
}

/// Compiles C plugin fixtures into a fresh plugins folder.
public enum FixturePlugins {
    public static func temporaryDirectory(_ prefix: String = "zt-plugins") -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Compiles `sources/NAME.c` (with `NAME.json` beside it, if any) into `directory/NAME.so`.
    public static func compile(_ name: String, from sources: String, into directory: String) throws {
        try Command.run("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O1", "-Wall", "-I", Binaries.repositoryRoot + "/Plugins/include",
                                         "-o", "\(directory)/\(name).so.tmp", "\(sources)/\(name).c"])
        let json = "\(sources)/\(name).json"
        if FileManager.default.fileExists(atPath: json) {
            try? FileManager.default.removeItem(atPath: "\(directory)/\(name).json")
            try FileManager.default.copyItem(atPath: json, toPath: "\(directory)/\(name).json")
        }
        // Appear whole: a watcher must never see a half-written library.
        rename("\(directory)/\(name).so.tmp", "\(directory)/\(name).so")
    }
}

/// Runs a short command to completion (a compiler, a build script).
public enum Command {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// Throws with the command's output when it exits non-zero.
    public static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))")
        }
    }
}
