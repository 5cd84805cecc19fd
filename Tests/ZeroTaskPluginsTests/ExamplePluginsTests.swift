import Testing
import ZeroTaskTestSupport
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The example plugins in Plugins/, built by Plugins/build.sh into a temporary folder.
@Suite struct ExamplePluginsTests {
    /// Built once per test process (the Swift plugin takes a few seconds).
    static let built: Result<String, Command.Failure> = {
        let dir = PluginFixtures.makeTemporaryDirectory("zt-examples")
        do {
            try PluginFixtures.run("/bin/bash", [PluginFixtures.repositoryRoot + "/Plugins/build.sh", dir])
            return .success(dir)
        } catch let e as Command.Failure {
            return .failure(e)
        } catch {
            return .failure(Command.Failure(description: "\(error)"))
        }
    }()

    let set: PluginSet

    init() throws {
        let dir = try Self.built.get()
        let (set, problems) = PluginSet.load(directory: dir, logger: quietLogger)
        #expect(problems.isEmpty, "\(problems)")
        self.set = set
    }

    /// Whether `build.sh` could build the Rust example (it skips it without cargo).
    static let cargoInstalled = (try? PluginFixtures.run("/bin/sh", ["-c", "command -v cargo"])) != nil

    @Test func everyExampleLoads() {
        #expect(set.plugins.map(\.name) == ["hello", "math"] + (Self.cargoInstalled ? ["rusty"] : []) + ["stats", "text"])
    }

    /// The Rust example: edition 2024's `#[unsafe(no_mangle)]`, an embedded manifest, a freed string.
    @Test(.enabled(if: cargoInstalled, "cargo is not installed: build.sh skips the Rust example"))
    func rust() throws {
        #expect(call(set, "rusty.gcd", [84, 36]) == .success(12))
        #expect(call(set, "rusty.shout", ["héllo"]) == .success("HÉLLO!"))
        #expect(set.plugins.first { $0.name == "rusty" }?.manifestSource == "embedded")
    }

    @Test func math() {
        #expect(call(set, "math.add", [2, 3]) == .success(5))
        #expect(call(set, "math.sub", [2, 3]) == .success(-1))
        #expect(call(set, "math.mul", [.int(1 << 31), 4]) == .success(.int(1 << 33)))
        #expect(call(set, "math.addf", [0.5, 0.25]) == .success(0.75))
        #expect(call(set, "math.div", [1, 4]) == .success(0.25))
        #expect(call(set, "math.div", [1, 0]) == .failure(RPCError(code: -32602, message: "math.div: division by zero")))
        #expect(call(set, "math.sleep", [20]) == .success(20))
        #expect(call(set, "math.sleep", [10_000], host: RecordingHost(cancelled: true)) == .success(0))
    }

    @Test func text() {
        #expect(call(set, "text.upper", ["héllo, world"]) == .success("HéLLO, WORLD"))
        #expect(call(set, "text.length", ["日本語🚀"]) == .success(4))
        #expect(call(set, "text.reverse", ["ab日🚀"]) == .success("🚀日ba"))
        #expect(call(set, "text.reverse", [""]) == .success(""))
    }

    @Test func stats() throws {
        let host = RecordingHost()
        let m = try #require(set.method(named: "stats.summary"))
        #expect(m.invoke(.named(["values": [1, 2, 3, 4.5]]), host: host) == .success(["count": 4, "mean": 2.625, "min": 1, "max": 4.5]))
        #expect(host.log.withLock { $0.progress.last?.0 } == 1.0)
        #expect(m.invoke(.positional([[-1e300, 7]])) == .success(["count": 2, "mean": -5e299, "min": -1e300, "max": 7]))
        #expect(m.invoke(.named(["values": []])).error?.message == "stats.summary: param \"values\" must not be empty")
        #expect(m.invoke(.named(["values": ["x"]])).error?.code == -32602)
    }

    @Test func swiftPlugin() {
        #expect(call(set, "hello.greet", ["Ada"]) == .success("Hello, Ada!"))
        #expect(call(set, "hello.greet", [""]) == .success("Hello, world!"))
        #expect(call(set, "hello.fib", [93]) == .success(.uint(12_200_160_415_121_876_738)))
        #expect(call(set, "hello.fib", [0]) == .success(0))
    }
}
