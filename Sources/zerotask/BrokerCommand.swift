import ArgumentParser
import Logging
import ZeroTaskBroker

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker", abstract: "Run a standalone broker.")

    @OptionGroup var broker: BrokerOptions

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let service = BrokerService(
            config: broker.config, request: broker.request, publish: broker.publish,
            logger: Logger(label: "zerotask.broker"))
        try await withTaskCancellationHandler {
            try await service.run()
        } onCancel: {
            service.stop()
        }
    }
}

/// Flags shared by `broker` and `node --broker builtin`.
struct BrokerOptions: ParsableArguments {
    @Option(help: "The request endpoint to bind (ROUTER).")
    var request = "tcp://*:5555"
    @Option(help: "The publish endpoint to bind (PUB).")
    var publish = "tcp://*:5556"
    @Option(name: .customLong("node-timeout"), help: "Seconds of silence after which a node is dead.")
    var nodeTimeout: Double = 10
    @Option(name: .customLong("max-retries"), help: "Times a task lost with its node is queued again.")
    var maxRetries = 3
    @Option(name: .customLong("max-message-bytes"), help: "Largest request body accepted.")
    var maxMessageBytes = 1 << 20

    var config: BrokerConfig {
        var c = BrokerConfig()
        c.nodeTimeout = nodeTimeout
        c.maxRetries = maxRetries
        c.maxMessageBytes = maxMessageBytes
        return c
    }
}
