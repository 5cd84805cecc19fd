import ArgumentParser
import ZeroTaskClient

/// `zerotask submit METHOD ARG…`: queue a task and print its id.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue a task and print its id (see status, result, cancel).",
        discussion: """
            The task runs as the stable client id cli-USER-TOKEN (or --client-id / \
            ZEROTASK_CLIENT_ID): status, result and cancel must use the same id to see it. \
            The method need not be served yet: the task waits for a node.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var call: ParamsOptions
    @OptionGroup var task: TaskFlags

    func run() async throws {
        let input = try await CLIFailure.reporting(connection: connection) { try call.input() }
        let handle = try await connection.withClient(stableID: true) { client in
            try await client.submit(call.method, try await input.params(for: call.method, from: client), options: task.options)
        }
        say(handle.id)
    }
}
