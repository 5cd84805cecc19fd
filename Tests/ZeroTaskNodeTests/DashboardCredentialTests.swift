import Foundation
import Testing
import ZeroTaskTestSupport

/// With keys on, the dashboard and its actions answer 401 without the admin token that
/// `zerotask keys token` prints: HMAC-SHA-256 of a fixed label under the broker's secret key,
/// checked here against Python's own `hmac` (an independent implementation).
@Suite(.timeLimit(.minutes(10))) struct DashboardCredentialTests {
    /// The token as Python computes it from the key file (Z85 decoded by hand: no stdlib codec).
    static func pythonToken(_ keyFile: String) throws -> String {
        let script = #"""
            import hmac, hashlib, sys
            A = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
            def z85(s):
                out = b""
                for i in range(0, len(s), 5):
                    n = 0
                    for c in s[i:i+5]: n = n * 85 + A.index(c)
                    out += n.to_bytes(4, "big")
                return out
            line = [l for l in open(sys.argv[1]) if l.startswith("secret-key")][0]
            key = z85(line.split()[1].strip())
            print(hmac.new(key, b"zerotask dashboard admin token v1", hashlib.sha256).hexdigest())
            """#
        let p = try ChildProcess("/usr/bin/python3", ["-c", script, keyFile])
        #expect(p.waitForExit(seconds: 30) == 0, "\(p.output)")
        return p.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func theDashboardNeedsTheTokenDerivedFromTheBrokersKey() throws {
        let dir = NSTemporaryDirectory() + "zt-dash-token-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, folder) in [("broker", dir), ("ops", dir + "/keys/admins")] {
            let gen = try ChildProcess(Binaries.zerotask, ["keys", "generate", name, "--dir", folder])
            #expect(gen.waitForExit(seconds: 30) == 0, "\(gen.output)")
        }
        let printed = try ChildProcess(Binaries.zerotask, ["keys", "token", dir + "/broker.key"])
        #expect(printed.waitForExit(seconds: 30) == 0, "\(printed.output)")
        let token = printed.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = try Self.pythonToken(dir + "/broker.key")
        #expect(token.count == 64 && token == expected, "\(token) vs \(expected)")

        let http = try BrokerHTTPTests.unusedHTTP()
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--request", try unusedEndpoint(),
            "--publish", try unusedEndpoint(), "--secret-key", dir + "/broker.key", "--keys-dir", dir + "/keys", "--http", http])
        defer { broker.stop() }
        #expect(try eventually(30) { try HTTPProbe.get(http + "/health").status == 200 }, "\(broker.output)")

        for path in ["/", "/dashboard.js", "/api/overview", "/api/tasks", "/api/task?id=x"] {
            #expect(try HTTPProbe.get(http + path).status == 401, "\(path)")
            #expect(try HTTPProbe.get(http + path, headers: ["Authorization: Bearer " + String(repeating: "0", count: 64)]).status == 401, "\(path)")
        }
        #expect(try HTTPProbe.post(http + "/api/retry", json: #"{"state":"failed"}"#).status == 401)
        #expect(try HTTPProbe.get(http + "/").body.contains("zerotask keys token"))

        let bearer = ["Authorization: Bearer " + token]
        #expect(try HTTPProbe.get(http + "/api/overview", headers: bearer).status == 200)
        #expect(try HTTPProbe.get(http + "/?token=" + token).status == 200)
        #expect(try HTTPProbe.get(http + "/api/tasks", headers: ["Cookie: zerotask_token=" + token]).status == 200)
        let retried = try HTTPProbe.post(http + "/api/retry", json: #"{"state":"failed"}"#, headers: bearer)
        #expect(retried.status == 200 && retried.body.contains("\"retried\":[]"), "\(retried.body)")
        // Scrapers and probes need no token.
        #expect(try HTTPProbe.get(http + "/metrics").status == 200)
    }
}
