import ZeroTaskNode

extension SandboxSettings {
    /// The node's sandbox settings from the file and the environment (`node.sandbox…`).
    /// - Throws: `Settings.ValidationFailure` naming the key for a value of the wrong kind.
    init(_ settings: Settings) throws {
        self.init()
        enabled = try Self.bool(settings, "node.sandbox", default: enabled)
        required = try Self.bool(settings, "node.require_sandbox", default: required)
        maxMemoryMiB = try settings.int("node.sandbox_max_memory_mib", nil, default: maxMemoryMiB)
        maxCPUSeconds = try settings.int("node.sandbox_max_cpu_seconds", nil, default: maxCPUSeconds)
        allowProcesses = try Self.bool(settings, "node.sandbox_allow_processes", default: allowProcesses)
        allowNetwork = try Self.bool(settings, "node.sandbox_allow_network", default: allowNetwork)
    }

    private static func bool(_ settings: Settings, _ key: String, default d: Bool) throws -> Bool {
        guard let text = settings.raw(key)?.lowercased() else { return d }
        switch text {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw Settings.ValidationFailure("\(key) must be true or false, not \"\(text)\"")
        }
    }
}
