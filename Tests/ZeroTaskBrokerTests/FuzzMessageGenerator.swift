/// Random and mutated JSON-RPC messages for the broker's request socket, from a seeded
/// generator: the same seed gives the same messages. Each message is its ZeroMQ frames, the
/// body last.
///
/// Kinds: requests for every broker method with garbage params (and plausible ones, so deeper
/// code runs), byte-level mutations of valid requests, batches of garbage, deep nesting, huge
/// and malformed numbers, invalid UTF-8, wrong types, random bytes, and random frame counts.
struct FuzzMessageGenerator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Every method the broker serves, with its params in positional order.
    static let methods: [(String, [String])] = [
        ("client_connect", ["client_id"]), ("client_disconnect", ["client_id"]),
        ("client_new_task", ["client_id", "method", "params", "task_id", "timeout", "priority", "max_retries", "result_ttl"]),
        ("client_new_tasks", ["client_id", "tasks"]), ("client_task_status", ["client_id", "task_id"]),
        ("client_task_result", ["client_id", "task_id"]), ("client_task_info", ["client_id", "task_id"]),
        ("client_cancel_task", ["client_id", "task_id"]), ("client_wait_results", ["client_id", "task_ids", "wait"]),
        ("node_connect", ["node_id", "methods", "workers", "capacity"]), ("node_heartbeat", ["node_id"]),
        ("node_disconnect", ["node_id"]), ("node_advertise", ["node_id", "methods", "workers", "capacity"]),
        ("node_task_release", ["node_id", "task_ids"]), ("node_task_request", ["node_id", "task_id"]),
        ("task_status", ["node_id", "task_id", "status", "progress"]), ("node_task_status", ["node_id", "task_id", "status"]),
        ("node_task_finished", ["node_id", "task_id", "result"]), ("node_task_failed", ["node_id", "task_id", "error"]),
        ("node_status", ["node_id", "workers"]), ("node_task_pull", ["node_id", "max", "wait", "done"]),
        ("node_tasks_done", ["node_id", "results"]), ("node_check_tasks", ["node_id", "task_ids"]),
        ("methods", []), ("nodes", []), ("stats", []),
    ]

    /// A few ids used again and again, so that some requests find the clients, nodes and tasks
    /// earlier ones created.
    static let ids = ["fz-a", "fz-b", "fz-n1", "fz-n2", "fz-a-1", "fz-a-x", "fz-b-1", "1", "math.add", "x"]

    // MARK: randomness

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
    mutating func percent(_ p: Int) -> Bool { below(100) < p }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: rng.next()) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in byte() } }

    // MARK: messages

    /// The next message's frames.
    mutating func next() -> [[UInt8]] {
        let body = nextBody()
        switch below(100) {
        case 0..<88: return [body]
        // REQ-style: exactly one reply, even for a notification.
        case 88..<94: return [[], body]
        // Extra envelope frames, within the broker's limit of 8.
        case 94..<99: return (0..<(1 + below(5))).map { _ in bytes(below(6)) } + [body]
        // Beyond it: dropped with a log line.
        default: return (0..<(8 + below(4))).map { _ in bytes(below(3)) } + [body]
        }
    }

    mutating func nextBody() -> [UInt8] {
        switch below(100) {
        case 0..<18: return request()
        case 18..<30: return scenario()
        case 30..<42: return mutate(percent(50) ? request() : scenario())
        case 42..<50: return batch()
        case 50..<57: return deepNesting()
        case 57..<64: return request(params: hugeNumber())
        case 64..<72: return invalidUTF8()
        case 72..<82: return wrongTypes()
        case 82..<90: return bytes(below(200))
        case 90..<99: return value(depth: 3)
        default: return percent(10) ? large() : request()
        }
    }

    /// `{"jsonrpc":"2.0","method":"zerotask.broker.M","params":P,"id":I}` with a real method,
    /// params that are partly plausible and partly garbage, and any id (or none).
    mutating func request(params given: [UInt8]? = nil) -> [UInt8] {
        let (name, names) = pick(Self.methods)
        let params = given ?? self.params(names)
        var members: [[UInt8]] = [
            Array(#""jsonrpc":"2.0""#.utf8),
            Array(#""method":"zerotask.broker."#.utf8) + Array(name.utf8) + [0x22],
            Array(#""params":"#.utf8) + params,
        ]
        if !percent(10) { members.append(Array(#""id":"#.utf8) + id()) }
        if percent(5) { members.append(Array(#""extra":"#.utf8) + value(depth: 1)) }
        // Any key order.
        for i in stride(from: members.count - 1, to: 0, by: -1) { members.swapAt(i, below(i + 1)) }
        return object(members)
    }

    /// A well-formed step of a task's life with ids that match (client "fz-a", node "fz-n1",
    /// tasks "fz-a-0" to "fz-a-19"), carrying garbage only where any JSON is allowed (params,
    /// results, error data, progress), so submission, assignment, retries, cancel, release and
    /// expiry run under the fuzz too.
    mutating func scenario() -> [UInt8] {
        let task = string("fz-a-\(below(20))")
        let method = string(pick(["math.add", "x"]))
        func n(_ x: Int) -> [UInt8] { Array(String(x).utf8) }
        let call: (String, [UInt8])
        switch below(20) {
        case 0: call = ("client_connect", array([string("fz-a")]))
        case 1: call = ("node_connect", object([string("node_id") + [0x3A] + string("fz-n1"),
            string("methods") + [0x3A] + array([string("math.add"), string("x")]), string("workers") + [0x3A] + n(below(5))]))
        case 2, 3: call = ("client_new_task", object([string("client_id") + [0x3A] + string("fz-a"), string("method") + [0x3A] + method,
            string("params") + [0x3A] + array([value(depth: 2)]), string("task_id") + [0x3A] + string("\(below(20))"),
            string("priority") + [0x3A] + n(below(5) - 2), string("max_retries") + [0x3A] + n(below(3)),
            string("result_ttl") + [0x3A] + n(below(4))]))
        case 4: call = ("client_new_tasks", array([string("fz-a"), array((0..<below(4)).map { _ in
            array([method, array([value(depth: 1)]), string("\(below(20))")]) })]))
        case 5, 6: call = ("node_task_pull", array([string("fz-n1"), n(below(6)), n(0), array((0..<below(3)).map { _ in
            object([string("id") + [0x3A] + string("fz-a-\(below(20))"), percent(60)
                ? string("result") + [0x3A] + value(depth: 2)
                : string("error") + [0x3A] + object([string("code") + [0x3A] + n(pick([-32061, -32060, 7])),
                    string("message") + [0x3A] + string(randomText(6)), string("data") + [0x3A] + value(depth: 1)])])
        })]))
        case 7: call = ("node_task_finished", array([string("fz-n1"), task, value(depth: 2)]))
        case 8: call = ("node_task_failed", array([string("fz-n1"), task, object([string("code") + [0x3A] + n(pick([-32061, 3])),
            string("message") + [0x3A] + string("crash")])]))
        case 9: call = ("task_status", object([string("node_id") + [0x3A] + string("fz-n1"), string("task_id") + [0x3A] + task,
            string("status") + [0x3A] + n(5000), string("progress") + [0x3A] + value(depth: 2)]))
        case 10: call = ("client_cancel_task", array([string("fz-a"), task]))
        case 11: call = ("client_task_result", array([string("fz-a"), task]))
        case 12: call = ("client_task_info", array([string("fz-a"), task]))
        case 13: call = ("node_task_release", array([string("fz-n1"), array([task])]))
        case 14: call = ("node_check_tasks", array([string("fz-n1"), array([task, string("fz-a-\(below(20))")])]))
        case 15: call = ("client_wait_results", array([string("fz-a"), array([task]), n(0)]))
        case 16: call = ("node_heartbeat", array([string("fz-n1")]))
        case 17: call = ("node_task_request", array([string("fz-n1"), task]))
        case 18: call = (percent(20) ? "node_disconnect" : "node_status", array([string("fz-n1")]))
        default: call = (percent(20) ? "client_disconnect" : "client_task_status", percent(20) ? array([string("fz-a")]) : array([string("fz-a"), task]))
        }
        return object([Array(#""jsonrpc":"2.0""#.utf8), Array(#""method":"zerotask.broker."#.utf8) + Array(call.0.utf8) + [0x22],
            Array(#""params":"#.utf8) + call.1, Array(#""id":"#.utf8) + n(below(1_000_000))])
    }

    mutating func params(_ names: [String]) -> [UInt8] {
        switch below(10) {
        case 0..<4:
            // By position: some of the method's params, maybe too many.
            let n = below(names.count + 2)
            return array((0..<n).map { i in i < names.count ? param(names[i]) : value(depth: 1) })
        case 4..<8:
            // By name, perhaps with unknown names.
            var members: [[UInt8]] = []
            for n in names where percent(70) { members.append(string(n) + [0x3A] + param(n)) }
            if percent(10) { members.append(string(randomText(8)) + [0x3A] + value(depth: 1)) }
            return object(members)
        default:
            return value(depth: 2)
        }
    }

    /// A value for a named param: usually of a plausible kind, sometimes anything.
    mutating func param(_ name: String) -> [UInt8] {
        if percent(25) { return value(depth: 2) }
        switch name {
        case "client_id", "node_id", "task_id", "method": return string(pick(Self.ids))
        case "task_ids": return array((0..<below(4)).map { _ in string(pick(Self.ids)) })
        case "methods": return array((0..<below(4)).map { _ in percent(80) ? string(pick(Self.ids)) : value(depth: 2) })
        case "wait": return Array(pick(["0", "0.01", "0.05", "-1", "1e308"]).utf8)
        case "timeout", "result_ttl": return Array(pick(["0", "1", "0.5", "-3", "1e309", "86400"]).utf8)
        case "max", "workers", "capacity", "priority", "max_retries", "status":
            return Array(pick(["0", "1", "3", "-1", "1000", "5000", "9223372036854775807", "9223372036854775808", "1.5"]).utf8)
        case "tasks", "results", "done":
            return array((0..<below(4)).map { _ in
                object([string("method") + [0x3A] + string(pick(Self.ids)), string("id") + [0x3A] + string(pick(Self.ids)),
                    string(pick(["params", "result", "error"])) + [0x3A] + value(depth: 2)])
            })
        case "error": return object([string("code") + [0x3A] + hugeNumber(), string("message") + [0x3A] + value(depth: 1)])
        default: return value(depth: 2)
        }
    }

    mutating func id() -> [UInt8] {
        switch below(8) {
        case 0: return Array("null".utf8)
        case 1: return string(randomText(below(20)))
        case 2: return hugeNumber()
        case 3: return value(depth: 2)
        default: return Array(String(rng.next() % 1_000_000).utf8)
        }
    }

    /// Any JSON value, nested at most `depth` deep.
    mutating func value(depth: Int) -> [UInt8] {
        switch below(depth > 0 ? 9 : 6) {
        case 0: return Array("null".utf8)
        case 1: return Array(pick(["true", "false"]).utf8)
        case 2: return Array(String(Int64(bitPattern: rng.next()) >> below(64)).utf8)
        case 3: return Array(String(Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF)).utf8)
        case 4, 5: return string(randomText(below(24)))
        case 6, 7: return array((0..<below(5)).map { _ in value(depth: depth - 1) })
        default:
            return object((0..<below(5)).map { _ in string(randomText(below(8))) + [0x3A] + value(depth: depth - 1) })
        }
    }

    mutating func randomText(_ n: Int) -> String {
        let alphabet = Array("abcxyz019_-.:ÿé€😀 \"\\/\n\t".unicodeScalars)
        var s = String.UnicodeScalarView()
        for _ in 0..<n { s.append(pick(alphabet)) }
        return String(s)
    }

    /// A JSON string literal of `s`, escaped, with an occasional odd but valid escape.
    mutating func string(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += Array(#"\n"#.utf8)
            case 0x09: out += Array(#"\u0009"#.utf8)
            default: out.append(b)
            }
        }
        if percent(3) { out += Array(pick([#"\u0000"#, #"\ud83d\ude00"#, #"\/"#, #"\uFFFF"#]).utf8) }
        return out + [0x22]
    }

    func array(_ items: [[UInt8]]) -> [UInt8] { [0x5B] + Array(items.joined(separator: [0x2C])) + [0x5D] }
    func object(_ members: [[UInt8]]) -> [UInt8] { [0x7B] + Array(members.joined(separator: [0x2C])) + [0x7D] }

    // MARK: the nasty kinds

    mutating func hugeNumber() -> [UInt8] {
        switch below(12) {
        case 0: return Array("1e999999".utf8)
        case 1: return Array("-1e-999999".utf8)
        case 2: return Array(String(repeating: "9", count: 1 + below(5000)).utf8)
        case 3: return Array(("-" + String(repeating: "1", count: 1 + below(400)) + ".5e+" + String(below(100_000))).utf8)
        case 4: return Array("18446744073709551616".utf8)
        case 5: return Array("-9223372036854775809".utf8)
        case 6: return Array("1.7976931348623157e309".utf8)
        case 7: return Array(pick(["NaN", "Infinity", "-Infinity", "01", "1.", ".5", "1e", "-", "+1", "0x10", "1_000"]).utf8)
        case 8: return Array("-0".utf8)
        case 9: return Array("4.9e-325".utf8)
        case 10: return array((0..<below(20)).map { _ in hugeNumber() })
        default: return Array(("0." + String(repeating: "0", count: below(2000)) + "1").utf8)
        }
    }

    mutating func deepNesting() -> [UInt8] {
        // Around the parser's limit of 256, beyond it, and now and then far beyond it.
        let n = percent(50) ? 250 + below(12) : percent(95) ? 256 + below(2000) : 100_000 + below(100_000)
        let closed = percent(50)
        switch below(3) {
        case 0: return Array(repeating: 0x5B, count: n) + (closed ? Array(repeating: 0x5D, count: n) : [])
        case 1:
            let open = Array(#"{"a":"#.utf8)
            var out: [UInt8] = []
            for _ in 0..<n { out += open }
            out += Array("1".utf8)
            if closed { out += Array(repeating: 0x7D, count: n) }
            return out
        default:
            // Inside the params of a real request.
            let params: [UInt8] = Array(repeating: 0x5B, count: n) + Array(repeating: 0x5D, count: closed ? n : n / 2)
            return request(params: params)
        }
    }

    /// Bytes that are not UTF-8 (overlong forms, surrogates, stray continuation bytes,
    /// truncated sequences, 0xFF) in strings, keys, the method name or outside any string.
    mutating func invalidUTF8() -> [UInt8] {
        let bad: [[UInt8]] = [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xFF], [0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0xFE, 0xFE]]
        let b = pick(bad)
        switch below(4) {
        case 0: return Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":[""#.utf8) + b + Array(#""],"id":1}"#.utf8)
        case 1: return Array(#"{"jsonrpc":"2.0","method":"zerotask.broker."#.utf8) + b + Array(#"stats","id":2}"#.utf8)
        case 2: return Array(#"{""#.utf8) + b + Array(#"":1,"jsonrpc":"2.0","method":"zerotask.broker.stats","id":3}"#.utf8)
        default:
            var r = request()
            r.insert(contentsOf: b, at: below(r.count + 1))
            return r
        }
    }

    /// Valid JSON of the wrong shape: members of the wrong type, missing or doubled.
    mutating func wrongTypes() -> [UInt8] {
        let method = Array(#""zerotask.broker."#.utf8) + Array(pick(Self.methods).0.utf8) + [0x22]
        let versions: [[UInt8]] = [Array(#""2.0""#.utf8), Array("2".utf8), Array(#""1.0""#.utf8), Array("null".utf8), value(depth: 1)]
        let methods: [[UInt8]] = [method, Array("5".utf8), Array("null".utf8), Array("[]".utf8), Array(#""""#.utf8), value(depth: 1)]
        let params: [[UInt8]] = [Array("[]".utf8), Array(#""x""#.utf8), Array("7".utf8), Array("null".utf8), Array("true".utf8), value(depth: 2)]
        var members: [[UInt8]] = []
        if percent(80) { members.append(Array(#""jsonrpc":"#.utf8) + pick(versions)) }
        if percent(85) { members.append(Array(#""method":"#.utf8) + pick(methods)) }
        if percent(70) { members.append(Array(#""params":"#.utf8) + pick(params)) }
        if percent(70) { members.append(Array(#""id":"#.utf8) + id()) }
        if percent(10) { members.append(Array(#""method":"#.utf8) + pick(methods)) }
        if percent(5) { members.append(Array(#""result":"#.utf8) + value(depth: 1)) }
        return object(members)
    }

    /// A JSON array of garbage and real requests (sometimes empty, sometimes not closed).
    mutating func batch() -> [UInt8] {
        let n = below(40)
        var items: [[UInt8]] = []
        for _ in 0..<n {
            switch below(5) {
            case 0, 1: items.append(request())
            case 2: items.append(wrongTypes())
            case 3: items.append(value(depth: 2))
            default: items.append(Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.stats"}"#.utf8))
            }
        }
        var out = array(items)
        if percent(10) { out.removeLast(below(out.count)) }
        return out
    }

    /// Flips, inserts, deletes, duplicates and truncates bytes of a message.
    mutating func mutate(_ message: [UInt8]) -> [UInt8] {
        var m = message
        for _ in 0..<(1 + below(5)) {
            guard !m.isEmpty else { break }
            let i = below(m.count)
            switch below(6) {
            case 0: m[i] ^= 1 << UInt8(below(8))
            case 1: m.insert(pick([0x22, 0x5B, 0x5D, 0x7B, 0x7D, 0x2C, 0x3A, 0x5C, 0x00, byte()]), at: i)
            case 2: m.removeSubrange(i..<min(m.count, i + 1 + below(8)))
            case 3: m.insert(contentsOf: m[i..<min(m.count, i + below(16))], at: i)
            case 4: m.removeSubrange(i...)
            default: m[i] = byte()
            }
        }
        return m
    }

    /// A big body now and then: a long string param, or more than max_message_bytes.
    mutating func large() -> [UInt8] {
        if percent(50) {
            return request(params: array([string(String(repeating: "z", count: 10_000 + below(300_000)))]))
        }
        return Array(repeating: 0x20, count: (1 << 20) + 1 + below(1000)) + Array("{}".utf8)
    }
}
