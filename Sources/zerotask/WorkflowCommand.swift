import ArgumentParser
import ZeroTaskClient
import ZeroTaskProtocol

/// `zerotask workflow chain|group STEP…`: run tasks as one on the broker.
struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Run tasks as one: a chain (each result passed on) or a group (all at once).",
        discussion: """
            Each STEP is a method and its params as JSON, in one argument: 'math.add [1, 2]'. \
            In a chain, each step's result goes to the next as its first param: \
            zerotask workflow chain 'math.add [1, 2]' 'math.mul [10]' --wait prints 30. \
            A group's result is the list of its tasks' results; with --callback, that list goes \
            to the callback as its first param. Prints the workflow's id (see status, result, \
            cancel: cancelling it cancels what it has pending), or with --wait its result.
            """)

    enum Kind: String, ExpressibleByArgument, CaseIterable { case chain, group }

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    @Argument(help: "chain or group.")
    var kind: Kind

    @Argument(help: ArgumentHelp("A method and its JSON params: 'math.add [1, 2]'.", valueName: "STEP"))
    var steps: [String]

    @Option(help: ArgumentHelp("A group's callback, given the list of results first: 'stats.summary []'.", valueName: "STEP"))
    var callback: String?

    @Option(name: .customLong("id"), help: ArgumentHelp("The workflow's own id (sent again, it is the same workflow).", valueName: "ID"))
    var workflowID: String?

    @Flag(help: "Wait for the workflow's result and print it.")
    var wait = false

    func run() async throws {
        let (tasks, callbackSpec) = try await CLIFailure.reporting(connection: connection) {
            guard !steps.isEmpty else { throw CLIFailure(.usage, "workflow \(kind.rawValue): give at least one STEP") }
            return (try steps.enumerated().map { try Self.step($1, "STEP \($0 + 1)") }, try callback.map { try Self.step($0, "--callback") })
        }
        let outcome: Result<JSONValue, ZeroTaskClientError>? = try await connection.withClient(stableID: true) { client in
            let handle = kind == .chain
                ? try await client.chain(tasks, id: workflowID)
                : try await client.group(tasks, callback: callbackSpec, id: workflowID)
            guard wait else {
                say(output.json ? JSONValue.object(["task_id": .string(handle.id)]).jsonString : handle.id)
                return nil
            }
            do {
                return .success(try await handle.wait())
            } catch ZeroTaskClientError.taskFailed(let id, let e) where output.json {
                return .failure(.taskFailed(taskID: id, error: e))
            }
        }
        switch outcome {
        case nil: break
        case .success(let value): say(value.jsonString)
        case .failure(let error):
            if let e = error.rpcError { say(JSONValue.object(["error": e.json]).jsonString) }
            throw CLIFailure(error, connection: connection).exit()
        }
    }

    /// `METHOD [JSON]` as one task; exit 64 naming the argument when it is not.
    static func step(_ text: String, _ name: String) throws(CLIFailure) -> TaskSpec {
        let trimmed = text.drop { $0 == " " }
        let method = String(trimmed.prefix { $0 != " " })
        let rest = trimmed.dropFirst(method.count).drop { $0 == " " }
        guard Identifier.isValidMethodName(method) else {
            throw CLIFailure(.usage, "\(name) \"\(text)\": must start with a method name, e.g. 'math.add [1, 2]'")
        }
        guard !rest.isEmpty else { return TaskSpec(method, .none) }
        let params = try ParamsInput.whole(String(rest), flag: "\(name) \"\(text)\"")
        return TaskSpec(method, params)
    }
}
