import ArgumentParser
import ZeroTaskProtocol

@main
struct ZeroTask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zerotask",
        abstract: "Run native code as remotely callable tasks (JSON-RPC 2.0 over ZeroMQ).",
        version: "zerotask " + ZeroTaskVersion.description,
        subcommands: [NodeCommand.self, BrokerCommand.self, WorkerCommand.self,
            CallCommand.self, SubmitCommand.self, StatusCommand.self, ResultCommand.self, CancelCommand.self,
            MethodsCommand.self, NodesCommand.self, StatsCommand.self, BenchCommand.self, PluginsCommand.self, KeysCommand.self,
            TasksCommand.self, RetryCommand.self, QueueCommand.self, WorkflowCommand.self]
    )
}
