#if canImport(Glibc)
import Glibc
#endif
import ZeroMQ
import ZeroTaskProtocol

/// A node's settings. Durations in seconds, sizes in bytes; 0 means "no limit" where noted.
public struct NodeConfig: Sendable {
    /// The broker's request endpoint (DEALER connects here): the first of `brokers`; setting it
    /// makes it the only one.
    public var broker: String {
        get { brokers[0] }
        set { brokers = [newValue] }
    }
    /// The brokers' request endpoints, tried in this order: the node talks to one at a time and
    /// fails over to the next, round robin, when the one in use stops answering (a request
    /// unanswered for `requestTimeout`). Never empty.
    public var brokers = ["tcp://127.0.0.1:5555"]
    /// The first broker's publish endpoint; nil: the request endpoint's port plus one (always
    /// so for the other brokers of a failover list).
    public var publish: String?
    /// CURVE for both sockets to a remote broker (its public key, this node's key pair); nil:
    /// plain connections. A built-in broker is called directly and needs none.
    public var curve: CurveClientKeys?
    /// This node's id; nil: `HOSTNAME-PID`.
    public var nodeID: String?
    /// The plugin drop folder.
    public var pluginsDir = "Plugins"
    /// Refuse plugins whose manifest has no `sha256` pin (a pin always refuses a changed file).
    public var requirePins = false
    /// What this node says it is (`--tags gpu,eu`): tasks that require tags go only to nodes
    /// having all of them. Sent in `node_connect` when not empty.
    public var tags: [String] = []
    /// Per-plugin configuration, keyed by plugin name, overriding each manifest's `config`.
    public var pluginConfig: [String: JSONValue] = [:]
    /// Worker processes.
    public var workers = 2
    /// Deadline for a task whose client and manifest give none.
    public var defaultTimeout = 300.0
    /// No task runs longer than this, whatever it asks for.
    public var maxTimeout = 3600.0
    /// A worker is replaced after this many tasks (0: never).
    public var maxTasksPerWorker = 0
    /// A worker above this resident size is replaced between tasks (0: no limit).
    public var maxWorkerMemory = 0
    /// A result larger than this fails the task instead (the broker refuses large bodies).
    public var maxResultBytes = 1 << 20 - 4096
    /// Tasks a worker may have queued (running one included) while tasks take well under a
    /// millisecond, so it never idles for a round trip between them and tasks travel in large
    /// batches; fewer for slower tasks (about 5 ms of expected work); 1 turns this off.
    public var pipelineDepth = 64
    /// Results sent to the broker in one message stay under this many bytes (half the broker's
    /// default `max_message_bytes`); a single larger result goes alone.
    public var maxBatchBytes = 512 * 1024
    /// How often the node tells the broker it lives.
    public var heartbeatInterval = 2.0
    /// How long a long poll for work waits at the broker.
    public var pullWait = 5.0
    /// Requests unanswered this long are given up (the broker restarted or is gone).
    public var requestTimeout = 10.0
    /// On SIGTERM, running tasks get this long to finish.
    public var drainGrace = 30.0
    /// A cancelled task's worker is killed if still busy after this long.
    public var cancelGrace = 2.0
    /// How often the plugins folder is checked for changes (0: never).
    public var reloadInterval = 1.0
    /// The executable to start workers from (this program, with the hidden `worker` subcommand).
    public var workerExecutable = NodeConfig.currentExecutable()
    /// Arguments before the worker's own (`["worker"]` for the zerotask executable).
    public var workerArguments = ["worker"]
    /// What workers may do: memory, CPU, processes, files, network (the sandbox).
    public var sandbox = SandboxSettings()

    public init() {}

    /// The running program's path (what `/proc/self/exe` points to), so `ps` shows workers by name.
    public static func currentExecutable() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "/proc/self/exe"
    }

    /// The publish endpoint to use: explicit, or the one `PublishEndpoint` derives from the
    /// request endpoint (the request endpoint itself where it derives none).
    public var publishEndpoint: String { publishEndpoint(of: 0) }

    /// The publish endpoint of broker `index` of `brokers`.
    public func publishEndpoint(of index: Int) -> String {
        let request = brokers[index]
        return (index == 0 ? publish : nil) ?? PublishEndpoint.derived(fromRequest: request) ?? request
    }

    /// The deadline for a task: the client's timeout, else the manifest's, else the default; capped.
    public func deadline(client: Double?, manifest: Double?) -> Double {
        let t = client ?? manifest ?? defaultTimeout
        return Swift.min(Swift.max(t, 0.001), maxTimeout)
    }
}
