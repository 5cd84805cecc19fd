// Timing loops for plugin calls (not a test). Run in release, after Plugins/build.sh:
//   swift run -c release zerotask-microbench [PLUGINS_DIR]
// Prints one Markdown table row per measurement (best of several runs, ns per call).
#if canImport(Glibc)
import Glibc
#endif
import Logging
@_spi(Benchmarks) import ZeroTaskPlugins
import ZeroTaskProtocol

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Plugins"
let (plugins, problems) = PluginSet.load(
    directory: directory, logger: Logger(label: "microbench", factory: { _ in SwiftLogNoOpLogHandler() }))
guard problems.isEmpty, let add = plugins.method(named: "math.add"), let upper = plugins.method(named: "text.upper"),
    let summary = plugins.method(named: "stats.summary")
else {
    print("microbench: needs the example plugins in \(directory) (run Plugins/build.sh): \(problems)")
    exit(1)
}

/// Runs `body` `iterations` times per run, `runs` times; returns the best ns per iteration.
func measure(_ iterations: Int, runs: Int = 7, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    var best = Double.infinity
    for _ in 0..<runs {
        let elapsed = clock.measure { for _ in 0..<iterations { body() } }
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        best = min(best, ns / Double(iterations))
    }
    return best
}

var sink: Int64 = 0  // results feed this so the optimizer cannot drop the calls
func row(_ what: String, _ ns: Double) {
    print("| \(what) | \((ns * 10).rounded() / 10) |")
}

print("| call | ns per call |")
print("| --- | ---: |")

// 1. A direct call through a C function pointer: the floor.
let handle = dlopen(directory + "/math.so", RTLD_NOW | RTLD_LOCAL)
typealias Add = @convention(c) (Int64, Int64) -> Int64
let direct = unsafeBitCast(dlsym(handle, "math_add"), to: Add.self)
var x: Int64 = 0
row("direct C call `int64 add(int64, int64)` (dlsym + function pointer)", measure(20_000_000) {
    x = direct(x, 1)
})
sink &+= x

// 2. The same function through its prepared libffi call interface (argument slots ready).
var a: Int64 = 0
var b: Int64 = 1
var result: UInt64 = 0
let rawNs: Double = withUnsafeMutablePointer(to: &a) { pa in
    withUnsafeMutablePointer(to: &b) { pb in
        var avalues: [UnsafeMutableRawPointer?] = [UnsafeMutableRawPointer(pa), UnsafeMutableRawPointer(pb)]
        return avalues.withUnsafeMutableBufferPointer { av in
            withUnsafeMutablePointer(to: &result) { r in
                measure(10_000_000) {
                    add.rawCall(avalues: av.baseAddress!, rvalue: r)
                    pa.pointee = Int64(bitPattern: r.pointee)
                }
            }
        }
    }
}
row("prepared `ffi_call`, same function", rawNs)
sink &+= a

// 3. invoke: params checked from JSON values, libffi call, JSON value result.
let params = Params.positional([.int(2), .int(3)])
row("`PluginMethod.invoke` math.add, params as JSONValue → JSONValue", measure(2_000_000) {
    if case .success(.int(let v)) = add.invoke(params) { sink &+= v }
})

// 4. The full path a worker runs: JSON params bytes → parse → check → call → JSON result bytes.
let paramsText: [UInt8] = Array("[2,3]".utf8)
row("full path math.add: params JSON bytes → result JSON bytes", measure(1_000_000) {
    let r = paramsText.withUnsafeBytes { add.invoke(paramsJSON: $0) }
    if case .success(let v) = r { sink &+= Int64(v.jsonBytes.count) }
})

// 5. Strings in and out (copy in, copy out, free through the plugin's symbol).
let upperText: [UInt8] = Array("[\"hello, world\"]".utf8)
row("full path text.upper: string in, owned string out", measure(1_000_000) {
    let r = upperText.withUnsafeBytes { upper.invoke(paramsJSON: $0) }
    if case .success(let v) = r { sink &+= Int64(v.jsonBytes.count) }
})

// 6. A JSON-ABI method: params re-serialized for the plugin, its result parsed back.
let statsText: [UInt8] = Array("{\"values\":[1,2,3,4,5,6,7,8]}".utf8)
row("full path stats.summary (JSON ABI, 8 values)", measure(300_000) {
    let r = statsText.withUnsafeBytes { summary.invoke(paramsJSON: $0) }
    if case .success(let v) = r { sink &+= Int64(v.jsonBytes.count) }
})

if sink == 42 { print("") }  // keeps `sink` alive
plugins.shutdown()
