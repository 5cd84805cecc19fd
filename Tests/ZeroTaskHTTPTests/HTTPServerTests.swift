#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import ZeroTaskTestSupport
@testable import ZeroTaskHTTP

/// The parser as a pure function, and the server on real loopback sockets.
@Suite struct HTTPServerTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func aRequestIsReadWithItsHeadersQueryAndBody() throws {
        let raw = Self.bytes("POST /api/retry?state=failed&text=a+b%21&flag HTTP/1.1\r\nHost: x\r\ncontent-LENGTH: 5\r\nCookie: k=v\r\n\r\nhelloGET")
        guard case .request(let method, let target, let version, let headers, let body, let consumed) = HTTPParser.parse(raw) else {
            Issue.record("not parsed: \(HTTPParser.parse(raw))")
            return
        }
        #expect(consumed == raw.count - 3, "the next request's bytes are left")
        let r = HTTPParser.request(method: method, target: target, version: version, headers: headers, body: body)
        #expect(r.method == "POST" && r.path == "/api/retry" && String(decoding: r.body, as: UTF8.self) == "hello")
        #expect(r.query["state"] == "failed" && r.query["text"] == "a b!" && r.query["flag"] == "")
        #expect(r.headers[.cookie] == "k=v" && r.headers[HTTPHeader("HOST")] == "x")
        #expect(!r.closes)
    }

    @Test func partsOfARequestWaitForTheRest() {
        #expect(HTTPParser.parse(Self.bytes("GET / HTTP/1.1\r\nHost")) == .incomplete)
        #expect(HTTPParser.parse(Self.bytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")) == .incomplete)
    }

    @Test func badOrOversizedRequestsAreRefusedWithTheirStatus() {
        func status(_ text: String, _ limits: HTTPParser.Limits = .init()) -> Int? {
            if case .refused(let s, _) = HTTPParser.parse(Self.bytes(text), limits: limits) { return s.rawValue }
            return nil
        }
        #expect(status("GARBAGE\r\n\r\n") == 400)
        #expect(status("GET nopath HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nContent-Length: -3\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
        #expect(status("POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n") == 413)
        #expect(status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20000)) == 431, "no end of headers in sight")
        #expect(status("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200) + "\r\n\r\n", .init(headerBytes: 100)) == 431)
    }

    @Test func http10AndConnectionCloseEndTheConnection() {
        func closes(_ text: String) -> Bool {
            guard case .request(let m, let t, let v, let h, let b, _) = HTTPParser.parse(Self.bytes(text)) else { return false }
            return HTTPParser.request(method: m, target: t, version: v, headers: h, body: b).closes
        }
        #expect(closes("GET / HTTP/1.0\r\n\r\n"))
        #expect(closes("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
        #expect(!closes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))
    }

    /// A raw client connection.
    final class Connection: @unchecked Sendable {
        let fd: Int32
        init(port: UInt16) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
            let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard r == 0 else { throw TimedOut(what: "a connection to port \(port)") }
            var t = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }

        func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

        /// One response: its status and body ("" and 0 when the connection ended first).
        func response() -> (status: Int, body: String) {
            var buffer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                if let end = HTTPParser.headerEnd(buffer) {
                    let head = String(decoding: buffer[..<end], as: UTF8.self)
                    let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if buffer.count >= end + 4 + length {
                        let status = Int(head.split(separator: " ")[1]) ?? 0
                        return (status, String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self))
                    }
                }
                let n = read(fd, &chunk, chunk.count)
                guard n > 0 else { return (0, "") }
                buffer += chunk[..<n]
            }
        }
    }

    /// Runs blocking socket I/O on a thread of its own: the server's handlers run on Swift's
    /// cooperative pool, which a test blocking in `read` would hold up.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { done in Thread { done.resume(returning: body()) }.start() }
    }

    @Test func theServerAnswersRoutesKeepsConnectionsAliveAndStops() async throws {
        let port = UInt16(try unusedEndpoint().split(separator: ":").last!)!
        let server = HTTPServer(host: "127.0.0.1", port: port, maxConnections: 8, idleSeconds: 30)
        server.route("GET /hello") { r in .text(.ok, "hello \(r.query["name"] ?? "?")") }
        server.route("POST /echo") { r in HTTPResponse(statusCode: .ok, body: r.body) }
        let stopped = Mutex(false)
        try server.listen { stopped.withLock { $0 = true } }
        // A taken port is an error at once.
        #expect(throws: HTTPServer.Failure.self) { try HTTPServer(host: "127.0.0.1", port: port).listen {} }

        // A client that connects and says nothing does not hold up the others.
        let silent = try Connection(port: port)
        let c = try Connection(port: port)
        // One thread runs the whole conversation, so no pause of the test's own (a busy pool)
        // comes between its requests.
        let replies = await Self.offPool { () -> [(status: Int, body: String)] in
            [
                "GET /hello?name=zt HTTP/1.1\r\nHost: x\r\n\r\n",
                "POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nping",  // same connection: kept alive
                "GET /nothing HTTP/1.1\r\n\r\n", "DELETE /hello HTTP/1.1\r\n\r\n", "BROKEN\r\n\r\n", "",
            ].map { text in
                if !text.isEmpty { c.send(text) }
                return c.response()
            }
        }
        #expect(replies[0] == (200, "hello zt"))
        #expect(replies[1] == (200, "ping"))
        #expect(replies[2].status == 404 && replies[3].status == 405 && replies[4].status == 400)
        #expect(replies[5].status == 0, "a refused request ends the connection")
        _ = silent

        server.stop()
        #expect(eventually(10) { stopped.withLock { $0 } }, "the accept thread ended")
        #expect(throws: TimedOut.self, "nothing listens any more") { try Connection(port: port) }
    }

    @Test func aResponseDoesNotWaitForABusyCooperativePool() async throws {
        let port = UInt16(try unusedEndpoint().split(separator: ":").last!)!
        let server = HTTPServer(host: "127.0.0.1", port: port)
        server.route("GET /hello") { _ in .text(.ok, "hello") }
        try server.listen {}
        defer { server.stop() }
        let answered = Flag()
        // Every thread of the pool is held (as tests and busy code hold it) until the response
        // comes, or for 20 s: the handler must not need one of them.
        let width = ProcessInfo.processInfo.activeProcessorCount + 1
        let hogs = (0..<width).map { _ in
            Task.detached { () -> Bool in
                let deadline = Date().addingTimeInterval(20)
                while !answered.value.load(ordering: .acquiring) && Date() < deadline { usleep(1000) }
                return answered.value.load(ordering: .acquiring)
            }
        }
        let c = try Connection(port: port)
        Thread {
            c.send("GET /hello HTTP/1.1\r\n\r\n")
            if c.response() == (200, "hello") { answered.value.store(true, ordering: .releasing) }
        }.start()
        for h in hogs { #expect(await h.value, "answered while the pool was busy") }
    }

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }
}
