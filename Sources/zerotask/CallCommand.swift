import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask call METHOD ARG…`: run a method and print its result.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Run a method on some node and print its result as JSON.",
        discussion: """
            Fails at once (exit 69) when no node serves the method. Exit codes: 0 ok, 64 usage, \
            65 the task failed (its error on stderr), 69 no broker answered or no node serves the \
            method, 70 internal error, 75 --wait-timeout passed (the task is cancelled).
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var call: ParamsOptions
    @OptionGroup var task: TaskFlags

    @Option(name: .customLong("wait-timeout"), help: ArgumentHelp(
        "Seconds to wait for the result (default: as long as it takes).", valueName: "S"))
    var waitTimeout: Double?

    func run() async throws {
        let input = try await CLIFailure.reporting(connection: connection) { try call.input() }
        let result = try await connection.withClient(stableID: false) { client in
            // The signature comes from the methods list `call` fetches anyway (it is cached for
            // the check that a node serves the method): no extra request.
            let params = try await input.params(for: call.method, from: client)
            do {
                return try await client.call(call.method, params,
                    timeout: waitTimeout.map { .milliseconds(Int64($0 * 1000)) }, options: task.options)
            } catch ZeroTaskClientError.taskFailed(_, let e) {
                // Plugins often name the method in their message already; say it once.
                let message = e.message.hasPrefix(call.method + ": ") ? String(e.message.dropFirst(call.method.count + 2)) : e.message
                var line = "\(call.method) failed: \(message) (code \(e.code)"
                if let data = e.data { line += ", data \(data.jsonString)" }
                throw CLIFailure(.taskFailed, line + ")")
            } catch ZeroTaskClientError.timedOut(_, let s) {
                throw CLIFailure(.notYet,
                    "\(call.method) did not complete within \(SecondsText.format(s)) and was cancelled (raise --wait-timeout, or use submit and result --wait)")
            }
        }
        say(result.jsonString)
    }
}
