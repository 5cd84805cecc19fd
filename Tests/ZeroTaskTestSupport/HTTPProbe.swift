import Foundation

/// Requests over a real HTTP connection (curl), for the broker's HTTP server.
public enum HTTPProbe {
    public struct Reply: Sendable {
        /// 0 when nothing answered.
        public var status: Int
        public var body: String

        public init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    /// `GET url`; status 0 when the connection failed.
    public static func get(_ url: String, headers: [String] = []) throws -> Reply { try send("GET", url, headers: headers) }

    /// `POST url` with a JSON body.
    public static func post(_ url: String, json body: String, headers: [String] = []) throws -> Reply {
        try send("POST", url, body: body, headers: ["Content-Type: application/json"] + headers)
    }

    /// One request; `headers` are `Name: value` lines.
    public static func send(_ method: String, _ url: String, body: String? = nil, headers: [String] = []) throws -> Reply {
        let bodyPath = FileManager.default.temporaryDirectory.appendingPathComponent("zt-http-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: bodyPath) }
        var args = ["-s", "-m", "10", "-X", method, "-o", bodyPath, "-w", "%{http_code}"]
        for h in headers { args += ["-H", h] }
        if let body { args += ["--data-binary", body] }
        let curl = try ChildProcess("/usr/bin/curl", args + [url])
        curl.waitForExit(seconds: 30)
        let status = Int(curl.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return Reply(status: status, body: (try? String(contentsOfFile: bodyPath, encoding: .utf8)) ?? "")
    }

    /// The value of one series (`name{label="value"}`) in a Prometheus text page, nil if absent.
    public static func sample(_ page: String, _ series: String) -> Double? {
        for line in page.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).split(separator: " ")[0])
        }
        return nil
    }
}
