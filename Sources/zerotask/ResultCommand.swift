import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask result ID [--wait]`: print a task's result.
struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Print a task's result as JSON.",
        discussion: "Exit codes: 0 ok, 65 the task failed (its error on stderr), 75 not complete yet (use --wait).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The task id that submit printed.")
    var id: String

    @Flag(help: "Wait until the task completes.")
    var wait = false

    @Option(name: .customLong("wait-timeout"), help: ArgumentHelp(
        "With --wait: seconds to wait at most (default: as long as it takes).", valueName: "S"))
    var waitTimeout: Double?

    func run() async throws {
        let outcome: Result<JSONValue, ZeroTaskClientError> = try await connection.withClient(stableID: true) { client in
            let task = client.task(id)
            do {
                let value = wait
                    ? try await task.wait(timeout: waitTimeout.map { .milliseconds(Int64($0 * 1000)) })
                    : try await task.result()
                return .success(value)
            } catch ZeroTaskClientError.taskFailed(let id, let e) where output.json {
                return .failure(.taskFailed(taskID: id, error: e))
            }
        }
        switch outcome {
        case .success(let value):
            say(output.json ? JSONValue.object(["task_id": .string(id), "result": value]).jsonString : value.jsonString)
        case .failure(let error):
            // --json: the error goes to stdout as data too, and the exit code still says "failed".
            if let e = error.rpcError { say(JSONValue.object(["task_id": .string(id), "error": e.json]).jsonString) }
            throw CLIFailure(error, connection: connection).exit()
        }
    }
}
