import Foundation
import Testing
import ZeroTaskTestSupport

/// The Python client (clients/python), installed with pip as a user would, runs its own tests
/// (clients/python/tests: unittest, against a real node with a built-in broker and the example
/// plugins, with and without CURVE keys). python3 with pyzmq and setuptools is required
/// (scripts/install-deps.sh installs them); without them this fails, it does not skip.
@Suite struct PythonClientTests {
    static let package = Binaries.repositoryRoot + "/clients/python"

    @Test func thePythonClientInstallsWithPipAndPassesItsTests() throws {
        let target = FixturePlugins.temporaryDirectory("zt-pip")
        // pip builds in the folder it installs from: a copy keeps the repository clean.
        let source = FixturePlugins.temporaryDirectory("zt-pip-src") + "/python"
        defer {
            try? FileManager.default.removeItem(atPath: target)
            try? FileManager.default.removeItem(atPath: (source as NSString).deletingLastPathComponent)
        }
        try FileManager.default.copyItem(atPath: Self.package, toPath: source)
        // The installed copy, not the source folder, is what the tests import.
        let pip = try ChildProcess("/usr/bin/env", [
            "python3", "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", target, source,
        ])
        try #require(pip.waitForExit(seconds: 300) == 0, "pip install ./clients/python failed: \(pip.output)")
        #expect(FileManager.default.fileExists(atPath: target + "/zerotask/client.py"))

        let tests = try ChildProcess("/usr/bin/env", [
            "python3", "-m", "unittest", "discover", "-v", "-s", Self.package + "/tests", "-t", Self.package + "/tests",
        ], environment: ["PYTHONPATH": target, "ZEROTASK_BIN": Binaries.zerotask, "PYTHONDONTWRITEBYTECODE": "1"])
        let status = tests.waitForExit(seconds: 600)
        #expect(status == 0, "the Python client's tests failed:\n\(tests.output)")
        // Every test ran (none skipped or missing), and from the installed package.
        let ran = tests.output.split(separator: "\n").first { $0.hasPrefix("Ran ") }
        #expect(ran.flatMap { Int($0.split(separator: " ")[1]) } ?? 0 >= 20, "\(tests.output)")
        #expect(!tests.output.contains("skipped"), "\(tests.output)")
    }
}
