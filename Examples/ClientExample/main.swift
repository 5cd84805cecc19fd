// A complete program using ZeroTask from Swift: the README shows it, and a test builds and runs
// it against a real node serving the example plugins (`swift run zerotask-example-client`, with
// a node running: `zerotask node --broker builtin`).
import ZeroTaskClient

/// Named params for math.add, sent as a JSON object.
struct Pair: Encodable {
    var a: Int
    var b: Int
}

/// What stats.summary returns.
struct Summary: Decodable {
    var count: Int
    var mean: Double
    var min: Double
    var max: Double
}

// The broker: $ZEROTASK_BROKER, else tcp://127.0.0.1:5555.
let client = try await ZeroTaskClient()

// Params as literals or Swift values; the result as JSON, or decoded into a Swift type.
let five = try await client.call("math.add", [2, 3])
let x = 40
let sum = try await client.call("math.add", Params(x, 2), as: Int.self)
let named = try await client.call("math.add", with: Pair(a: 7, b: 8), as: Int.self)
let loud = try await client.call("text.upper", with: ["hello"], as: String.self)
let summary = try await client.call("stats.summary", with: [[1.0, 2.0, 4.5]], as: Summary.self)

// Queue a task, get its id at once, wait for its result later.
let task = try await client.submit("text.reverse", ["stressed"])
let reversed = try await task.wait(as: String.self, timeout: .seconds(30))

print("math.add(2, 3) = \(five)")
print("math.add(\(x), 2) = \(sum)")
print("math.add(a: 7, b: 8) = \(named)")
print("text.upper(hello) = \(loud)")
print("stats.summary: count \(summary.count), mean \(summary.mean), max \(summary.max)")
print("text.reverse(stressed) = \(reversed) (task \(task.id))")

// Failures carry the task's own error.
do {
    _ = try await client.call("math.div", [1, 0])
} catch ZeroTaskClientError.taskFailed(_, let error) {
    print("failed: \(error.message) (code \(error.code))")
}
await client.close()
