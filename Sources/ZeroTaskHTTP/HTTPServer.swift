#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A small HTTP/1.1 server on POSIX sockets: one thread accepts, each connection has a thread
/// of its own (at most `maxConnections`; beyond, 503), and a handler is an `async` function whose
/// task runs on its connection's thread (`ConnectionExecutor`). No socket read blocks Swift's
/// cooperative pool, and no response waits for that pool to have a free thread. A connection
/// that sends nothing for `idleSeconds` is closed, so a silent client holds a thread for that
/// long at most; headers and bodies are bounded (`HTTPParser.Limits`).
final class HTTPServer: @unchecked Sendable {
    typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    let host: String
    let port: UInt16
    let maxConnections: Int
    let idleSeconds: Int
    private var routes: [String: Handler] = [:]
    private let state = Mutex<(fd: Int32, stopping: Bool, connections: Int)>((-1, false, 0))

    init(host: String, port: UInt16, maxConnections: Int = 64, idleSeconds: Int = 10) {
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.idleSeconds = idleSeconds
    }

    /// Adds a route: `"GET /path"`. Call before `listen()`.
    func route(_ route: String, _ handler: @escaping Handler) { routes[route] = handler }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Binds and listens (a taken port throws here), then accepts on a thread of its own until
    /// `stop()`. Returns once listening.
    func listen(onStop: @escaping @Sendable () -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            close(fd)
            throw Failure(description: "\(host) is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "bind \(host):\(port): \(why)")
        }
        state.withLock { $0.fd = fd }
        let t = Thread { [self] in
            acceptLoop(fd)
            onStop()
        }
        t.name = "zerotask-http"
        t.start()
    }

    /// Stops accepting (the listening socket is shut down, which wakes `accept`); connections in
    /// progress finish their request. Returns at once.
    func stop() {
        let fd = state.withLock { s -> Int32 in
            s.stopping = true
            return s.fd
        }
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop(_ fd: Int32) {
        while true {
            let c = accept(fd, nil, nil)
            if state.withLock({ $0.stopping }) {
                if c >= 0 { close(c) }
                break
            }
            guard c >= 0 else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(100_000); continue }
                break
            }
            let admitted = state.withLock { s -> Bool in
                guard s.connections < maxConnections else { return false }
                s.connections += 1
                return true
            }
            guard admitted else {
                write(c, HTTPResponse.text(.serviceUnavailable, "too many connections\n").bytes(closing: true))
                close(c)
                continue
            }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            let t = Thread { [self] in
                serve(c)
                close(c)
                state.withLock { $0.connections -= 1 }
            }
            t.name = "zerotask-http-conn"
            t.start()
        }
        close(fd)
    }

    /// Reads requests off one connection and answers each, until it closes, idles or errs.
    private func serve(_ c: Int32) {
        var timeout = timeval(tv_sec: idleSeconds, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        while true {
            switch HTTPParser.parse(buffer) {
            case .incomplete:
                let n = read(c, &chunk, chunk.count)
                guard n > 0 else { return }
                buffer += chunk[..<n]
            case .refused(let status, let why):
                write(c, HTTPResponse.text(status, "\(status.rawValue): \(why)\n").bytes(closing: true))
                return
            case .request(let method, let target, let version, let headers, let body, let consumed):
                buffer.removeFirst(consumed)
                let request = HTTPParser.request(method: method, target: target, version: version, headers: headers, body: body)
                let response = answer(request)
                let closing = request.closes || state.withLock { $0.stopping }
                guard write(c, response.bytes(closing: closing)), !closing else { return }
            }
        }
    }

    /// The route's handler's response, or 404 (no such path) or 405 (not with this method).
    private func answer(_ request: HTTPRequest) -> HTTPResponse {
        guard let handler = routes["\(request.method) \(request.path)"] ?? (request.method == "HEAD" ? routes["GET \(request.path)"] : nil) else {
            if routes.keys.contains(where: { $0.hasSuffix(" \(request.path)") }) {
                return .text(.methodNotAllowed, "405: \(request.method) is not served on \(request.path)\n")
            }
            return .text(.notFound, "404: nothing at \(request.path)\n")
        }
        // The handler runs on this connection's own thread (its task executor), not on Swift's
        // cooperative pool: a pool kept busy elsewhere cannot hold a response up.
        let box = ResponseBox()
        let executor = ConnectionExecutor()
        Task(executorPreference: executor) {
            box.value = await handler(request)
            executor.finish()
        }
        executor.run()
        var response = box.value ?? .text(.internalServerError, "500\n")
        if request.method == "HEAD" { response.body = Data() }
        return response
    }

    @discardableResult
    private func write(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }
}

/// A handler's response, written by its task before the waiting thread reads it.
private final class ResponseBox: @unchecked Sendable {
    var value: HTTPResponse?
}

/// Runs one task's jobs on the thread that calls `run()`, until the task calls `finish()`.
private final class ConnectionExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
