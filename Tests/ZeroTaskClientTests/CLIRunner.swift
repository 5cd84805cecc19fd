import Foundation
import ZeroTaskTestSupport

/// Runs the built `zerotask` executable as a subprocess and captures what it printed.
struct CLIRunner {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    let executable: URL

    init() throws { executable = URL(fileURLWithPath: try Binaries.locateZerotask()) }

    /// Runs `zerotask ARGS…`, with `stdin` as its standard input when given; kills it (by its
    /// pid) if it runs longer than `limit` seconds.
    func run(_ args: [String], environment: [String: String] = [:], stdin: String? = nil, limit: Double = 120) async throws -> Output {
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
        if let stdin {
            let inURL = dir.appendingPathComponent("in")
            try stdin.write(to: inURL, atomically: true, encoding: .utf8)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        }
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
