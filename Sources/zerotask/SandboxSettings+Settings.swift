import ZeroTaskNode

extension SandboxSettings {
    /// The node's sandbox settings from the file and the environment (`node.sandbox…`).
    /// - Throws: `Settings.ValidationFailure` naming the key for a value of the wrong kind.
    init(_ settings: Settings) throws {
        self.init()
        enabled = try settings.bool("node.sandbox", false, default: enabled)
        required = try settings.bool("node.require_sandbox", false, default: required)
        maxMemoryMiB = try settings.int("node.sandbox_max_memory_mib", nil, default: maxMemoryMiB)
        maxCPUSeconds = try settings.int("node.sandbox_max_cpu_seconds", nil, default: maxCPUSeconds)
        allowProcesses = try settings.bool("node.sandbox_allow_processes", false, default: allowProcesses)
        allowNetwork = try settings.bool("node.sandbox_allow_network", false, default: allowNetwork)
        allowRead = try settings.paths("node.sandbox_read")
        allowWrite = try settings.paths("node.sandbox_write")
    }
}
