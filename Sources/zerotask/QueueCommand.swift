import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask queue pause|resume|purge METHOD`: queue control (`admin_queue`).
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Pause, resume or purge a method's queue (an admin key when the broker has keys).",
        discussion: """
            pause: tasks of the method are still accepted and queued, but none is handed to a \
            node until resume (running tasks go on). purge: the method's queued tasks are \
            cancelled (running ones are left alone); prints how many. A paused method stays \
            paused across a broker restart.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "pause, resume or purge.")
    var action: String
    @Argument(help: "The method (as `zerotask methods` lists it).")
    var method: String

    func validate() throws {
        guard ZeroTaskClient.QueueAction(rawValue: action) != nil else {
            throw ValidationError("the action must be pause, resume or purge, not \"\(action)\"")
        }
    }

    func run() async throws {
        let act = ZeroTaskClient.QueueAction(rawValue: action)!
        let answer = try await connection.withClient(stableID: false) { c in try await c.adminQueue(method, action: act) }
        if output.json {
            say(JSONValue.object(answer).jsonString)
            return
        }
        let delayed = answer["delayed"]?.int64Value ?? 0
        let queued = "\(answer["queued"]?.int64Value ?? 0) queued" + (delayed > 0 ? ", \(delayed) of them delayed" : "")
        switch act {
        case .pause: say("\(method): paused (\(queued); none is handed out until: zerotask queue resume \(method))")
        case .resume: say("\(method): resumed (\(queued))")
        case .purge: say("\(method): \(answer["purged"]?.int64Value ?? 0) queued tasks cancelled" + (answer["paused"]?.boolValue == true ? " (still paused)" : ""))
        }
    }
}
