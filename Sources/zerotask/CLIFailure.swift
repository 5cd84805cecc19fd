import ArgumentParser
import Foundation
import ZeroTaskClient
import ZeroTaskProtocol

/// The exit codes of the client commands (sysexits.h values).
enum ExitStatus: Int32 {
    /// Success.
    case ok = 0
    /// The command line is wrong, or the broker refused what it asked (unknown task id, bad id).
    case usage = 64
    /// The task failed (its error is printed), or `bench` saw failed or wrong results.
    case taskFailed = 65
    /// No broker answered within `--timeout`, or no node serves the method.
    case unavailable = 69
    /// A bug: an unexpected answer or error.
    case software = 70
    /// The task is not complete yet (`result` without `--wait`, or the wait timed out).
    case notYet = 75
    /// The configuration file cannot be read or holds something wrong.
    case config = 78
}

/// A failure already worded for the user: printed as one line on stderr, then the exit code.
struct CLIFailure: Error {
    var status: ExitStatus
    var message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    /// Prints the failure and exits with its code.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("zerotask: \(message)\n".utf8))
        return ExitCode(status.rawValue)
    }

    /// Runs a command body, turning every error into its line and exit code.
    static func reporting<T>(connection: ConnectionOptions, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as CLIFailure {
            throw failure.exit()
        } catch let error as ZeroTaskClientError {
            throw CLIFailure(error, connection: connection).exit()
        } catch let exit as ExitCode {
            throw exit
        } catch let error as Settings.FileError {
            throw CLIFailure(.config, "\(error)").exit()
        } catch let error as Settings.ValidationFailure {
            throw CLIFailure(.config, "\(error)").exit()
        } catch {
            throw CLIFailure(.software, "unexpected error: \(error)").exit()
        }
    }

    /// The user's view of a client error: what happened and what to do.
    init(_ error: ZeroTaskClientError, connection: ConnectionOptions) {
        switch error {
        case .brokerUnreachable(let endpoint, let seconds):
            self.init(.unavailable,
                "no broker answered at \(endpoint) within \(SecondsText.format(seconds)) (is a node or broker running? start one with: zerotask node --broker builtin)")
        case .methodUnknown(let method, let known):
            let served = known.isEmpty ? "no node is connected" : "served: \(known.joined(separator: ", "))"
            self.init(.unavailable, "no node serves method \(method) (\(served); see: zerotask methods)")
        case .taskFailed(let id, let e):
            var line = "task \(id) failed: \(e.message) (code \(e.code)"
            if let data = e.data { line += ", data \(data.jsonString)" }
            self.init(.taskFailed, line + ")")
        case .timedOut(let id, let seconds):
            self.init(.notYet,
                "task \(id) did not complete within \(SecondsText.format(seconds)); it may still finish: zerotask result \(id) --wait")
        case .taskNotComplete(let id):
            self.init(.notYet, "task \(id) is not complete yet; wait for it with: zerotask result \(id) --wait")
        case .invalidRequest(let e) where e.code == ErrorCode.invalidTaskID.rawValue:
            let who = connection.clientID(stable: true) ?? "?"
            self.init(.usage,
                "\(e.message) (task ids are per client; this command ran as client \(who): pass the --client-id that submitted it)")
        case .invalidRequest(let e) where e.code == ErrorCode.methodNotFound.rawValue:
            // A method whose plugin is quarantined: the broker's message names plugin and cause.
            self.init(.unavailable, e.message)
        case .invalidRequest(let e):
            self.init(.usage, "the broker refused the request: \(e.message) (\(e.code))")
        case .invalidArgument(let why):
            self.init(.usage, why)
        case .invalidResponse(let why):
            self.init(.software, "unexpected answer from the broker: \(why)")
        case .unsupported(let method, let endpoint):
            let name = BrokerMethod(wireName: method)?.rawValue ?? method
            self.init(.unavailable,
                "the broker at \(endpoint) does not support \(name) (\(method) answered -32601: it speaks only the seed methods, enough for call, submit, status and result)")
        case .closed:
            self.init(.software, "the client was closed while a request was pending")
        }
    }
}
