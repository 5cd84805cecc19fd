import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask retry ID…`: failed or cancelled tasks back to their queues, with their params
/// (`admin_retry`).
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry", abstract: "Queue failed or cancelled tasks again, with their params (an admin key when the broker has keys).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The task ids (as `zerotask tasks` lists them).")
    var ids: [String]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("name at least one task id (zerotask tasks --state failed lists them)") }
    }

    func run() async throws {
        let answer = try await connection.withClient(stableID: false) { c in try await c.adminRetry(taskIDs: ids) }
        if output.json {
            say(JSONValue.object(answer).jsonString)
            return
        }
        for id in answer["retried"]?.arrayValue ?? [] { say("queued again: \(id.stringValue ?? "")") }
        let skipped = answer["skipped"]?.arrayValue ?? []
        for s in skipped { say("not retried: \(s["task_id"]?.stringValue ?? ""): \(s["reason"]?.stringValue ?? "")") }
        if !skipped.isEmpty { throw CLIFailure(.taskFailed, "\(skipped.count) of \(ids.count) tasks were not retried").exit() }
    }
}
