import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask cancel ID`: cancel a queued or running task.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a queued or running task (it fails with -32062).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The task id that submit printed.")
    var id: String

    func run() async throws {
        let cancelled = try await connection.withClient(stableID: true) { client in try await client.task(id).cancel() }
        if output.json {
            say(JSONValue.object(["task_id": .string(id), "cancelled": .bool(cancelled)]).jsonString)
        } else {
            say(cancelled ? "cancelled \(id)" : "\(id) had already completed; nothing to cancel")
        }
    }
}
