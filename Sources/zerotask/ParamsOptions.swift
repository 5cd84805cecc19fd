import ArgumentParser
import Foundation
import ZeroTaskClient
import ZeroTaskProtocol

/// A method and its params as `call` and `submit` take them: `METHOD ARG…` (each ARG read as
/// JSON, a bare word as a string), or `--params JSON|@FILE|-` (also `--json JSON`), or
/// `--named k=v`.
struct ParamsOptions: ParsableArguments {
    @Argument(help: "The method to run, e.g. math.add.")
    var method: String

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp(
        "Positional params, each read as JSON; a bare word is a string, and so is any word for a param the method's signature types as string (zerotask call math.add 2 3).", valueName: "ARG"))
    var args: [String] = []

    @Option(name: .customLong("params"), help: ArgumentHelp(
        "All params as one JSON object (by name) or array (by position): the JSON itself, @FILE to read it from a file, or - for standard input.", valueName: "JSON|@FILE|-"))
    var paramsSource: String?

    @Option(name: .customLong("json"), help: ArgumentHelp(
        "All params as one JSON object or array, written inline (the same as --params JSON).", valueName: "JSON"))
    var json: String?

    @Option(name: .customLong("named"), help: ArgumentHelp(
        "A param by name, the value read like an ARG (repeatable).", valueName: "NAME=VALUE"))
    var named: [String] = []

    /// The params as given, checked for form before any broker is asked: one way of passing
    /// them, JSON that parses, a file that can be read.
    func input() throws(CLIFailure) -> ParamsInput {
        let forms = [paramsSource != nil, json != nil, !named.isEmpty, !args.isEmpty].filter { $0 }.count
        guard forms <= 1 else {
            throw CLIFailure(.usage, "pass params one way: ARG… (by position), --params (or --json), or --named (JSON-RPC params are either positional or named)")
        }
        if let paramsSource { return .whole(try ParamsInput.whole(ParamsInput.read(paramsSource), flag: "--params \(paramsSource)")) }
        if let json { return .whole(try ParamsInput.whole(json, flag: "--json")) }
        if !named.isEmpty {
            var pairs: [(String, String)] = []
            for pair in named {
                guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                    throw CLIFailure(.usage, "--named takes NAME=VALUE, not \"\(pair)\"")
                }
                pairs.append((String(pair[..<eq]), String(pair[pair.index(after: eq)...])))
            }
            return .named(pairs)
        }
        return .words(args)
    }
}

/// How a task is queued: priority, deadline on the node, retries, own id.
struct TaskFlags: ParsableArguments {
    @Option(help: "Higher runs first.")
    var priority: Int64 = 0

    @Option(name: .customLong("task-timeout"), help: ArgumentHelp(
        "The task's deadline on the node, in seconds (default: the method's).", valueName: "S"))
    var taskTimeout: Double?

    @Option(name: .customLong("max-retries"), help: "Times the task is queued again when its node is lost.")
    var maxRetries: Int?

    @Option(name: .customLong("task-id"), help: "Your own id for the task (the broker prefixes it with the client id).")
    var taskID: String?

    @Option(name: .customLong("result-ttl"), help: ArgumentHelp(
        "Seconds the broker keeps the result after the task completes (default: the broker's).", valueName: "S"))
    var resultTTL: Double?

    @Option(help: ArgumentHelp("Seconds to wait before the task may start (it stays queued meanwhile).", valueName: "S"))
    var delay: Double?

    @Option(name: .customLong("not-before"), help: ArgumentHelp(
        "The task does not start before this time: ISO 8601 (2026-12-03T08:00:00Z) or seconds since 1970.", valueName: "TIME"))
    var notBefore: String?

    @Option(name: .customLong("max-attempts"), help: ArgumentHelp(
        "Runs in all when the method fails with an application error (1: no retry; default: the method's retry policy).", valueName: "N"))
    var maxAttempts: Int?

    @Option(name: .customLong("retry-backoff"), help: ArgumentHelp(
        "Seconds before the first retry, doubling for each further one (with --max-attempts). [1]", valueName: "S"))
    var retryBackoff: Double?

    @Option(help: ArgumentHelp("Tags a node must all have to run the task, comma-separated (gpu,eu); it waits in its queue until such a node serves it.", valueName: "TAGS"))
    var tags: String?

    mutating func validate() throws {
        if let tags {
            do throws(PolicyError) { _ = try Tags.parse(tags, field: "--tags") } catch { throw ValidationError(error.description) }
        }
        if delay != nil && notBefore != nil { throw ValidationError("give --delay or --not-before, not both") }
        if let delay, !(delay >= 0 && delay.isFinite) { throw ValidationError("--delay must be a non-negative number of seconds, not \(delay)") }
        if let notBefore, Self.epochSeconds(notBefore) == nil {
            throw ValidationError("--not-before must be an ISO 8601 time (2026-12-03T08:00:00Z) or seconds since 1970, not \"\(notBefore)\"")
        }
        if let maxAttempts, !(1...100).contains(maxAttempts) { throw ValidationError("--max-attempts must be from 1 to 100, not \(maxAttempts)") }
        if retryBackoff != nil && maxAttempts == nil { throw ValidationError("--retry-backoff needs --max-attempts") }
        if let retryBackoff, !(0...86400).contains(retryBackoff) { throw ValidationError("--retry-backoff must be from 0 to 86400 seconds, not \(retryBackoff)") }
    }

    /// `TIME` of `--not-before` as seconds since 1970: a number, or ISO 8601 with or without
    /// fractional seconds (a time without a zone is refused: it would be ambiguous).
    static func epochSeconds(_ text: String) -> Double? {
        if let n = Double(text), n.isFinite, n >= 0 { return n }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return d.timeIntervalSince1970 }
        f.formatOptions.insert(.withFractionalSeconds)
        return f.date(from: text)?.timeIntervalSince1970
    }

    var options: TaskOptions {
        TaskOptions(priority: priority, timeout: taskTimeout.map { .milliseconds(Int64($0 * 1000)) },
            maxRetries: maxRetries, taskID: taskID, resultTTL: resultTTL.map { .milliseconds(Int64($0 * 1000)) },
            delay: delay.map { .milliseconds(Int64($0 * 1000)) }, notBefore: notBefore.flatMap(Self.epochSeconds),
            retry: maxAttempts.map { RetryPolicy(maxAttempts: $0, backoff: retryBackoff ?? 1) },
            tags: tags.flatMap { try? Tags.parse($0, field: "--tags") } ?? [])
    }
}

/// `--json`: machine-readable output.
struct OutputOptions: ParsableArguments {
    @Flag(name: .customLong("json"), help: "Print JSON for scripts instead of text for people.")
    var json = false
}

/// Writes a line to standard output.
func say(_ line: String) { print(line) }
