#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import ZeroTaskNode
import ZeroTaskPlugins
import ZeroTaskProtocol

/// The sandbox's rules without processes: profiles from declared limits, the primary profile,
/// and which limit a dead worker hit.
@Suite struct NodeSandboxTests {
    @Test func undeclaredLimitsTakeTheDefaultsAndDeclaredOnesAreCapped() {
        var s = SandboxSettings()
        #expect(s.profile(for: SandboxLimits()) == SandboxProfile(memoryMiB: 1024, cpuSeconds: 300, processes: 0, network: false, read: [], write: []))
        let greedy = SandboxLimits(memoryMiB: 1 << 20, cpuSeconds: 1 << 20, processes: 5, network: true, read: ["/b", "/a", "/a"])
        #expect(s.profile(for: greedy) == SandboxProfile(memoryMiB: 4096, cpuSeconds: 3600, processes: 5, network: true, read: ["/a", "/b"], write: []))
        s.allowNetwork = false
        s.allowProcesses = false
        #expect(s.profile(for: greedy).network == false)
        #expect(s.profile(for: greedy).processes == 0)
        s.enabled = false
        #expect(s.profile(for: greedy) == .unrestricted)
    }

    @Test func theProfileMostMethodsShareIsThePrimaryOne() {
        let settings = SandboxSettings()
        var sandbox = SandboxProfiles(settings: settings)
        let small = SandboxLimits(memoryMiB: 64)
        sandbox.update(declared: ["a": small, "b": small, "c": SandboxLimits()])
        #expect(sandbox.primary == settings.profile(for: small))
        #expect(sandbox.profile(of: "c") == settings.profile(for: SandboxLimits()))
        #expect(sandbox.profile(of: "unknown") == sandbox.primary)
    }

    @Test func aDeadWorkersLimitIsToldFromACrash() {
        let p = SandboxProfile(memoryMiB: 256, cpuSeconds: 1, processes: 0, network: false, read: [], write: [])
        let oom = p.limitError(.signaled(SIGKILL), oomKills: 1, method: "m", task: "t")
        #expect(oom?.code == ErrorCode.resourceLimit.rawValue)
        #expect(oom?.data == ["limit": "memory_mib", "memory_mib": 256])
        let cpu = p.limitError(.signaled(SIGXCPU), oomKills: 0, method: "m", task: "t")
        #expect(cpu?.data == ["limit": "cpu_seconds", "cpu_seconds": 1])
        #expect(p.limitError(.signaled(SIGSEGV), oomKills: 0, method: "m", task: "t") == nil)
        #expect(SandboxProfile.unrestricted.limitError(.signaled(SIGXCPU), oomKills: 0, method: "m", task: "t") == nil)
    }

    @Test func requireSandboxRefusesToStartWhenAMechanismIsMissing() throws {
        let weak = SandboxSupport(landlockABI: 0, seccomp: true, cgroups: .failure(CgroupError("not mounted")))
        var settings = SandboxSettings()
        #expect(try NodeSandbox.start(settings, detect: { weak }).support?.missing == ["landlock", "memory cgroup", "pids cgroup", "subreaper"])
        settings.required = true
        #expect(throws: NodeStartError.sandboxMissing(["landlock", "memory cgroup", "pids cgroup", "subreaper"])) { try NodeSandbox.start(settings, detect: { weak }) }
        settings.enabled = false
        #expect(try NodeSandbox.start(settings, detect: { weak }).support == nil)
    }

    /// Each mechanism forced off (as the test-only variable does) is missing, and with
    /// require_sandbox the start is refused naming it.
    @Test(arguments: [("landlock", "landlock"), ("seccomp", "seccomp"), ("cgroup", "memory cgroup"), ("pids", "pids cgroup")])
    func requireSandboxNamesEachMissingMechanism(off: String, name: String) throws {
        var settings = SandboxSettings()
        settings.required = true
        do {
            let sandbox = try NodeSandbox.start(settings, detect: { SandboxSupport.detect(forcedOff: [off]) })
            sandbox.removeCgroups()
            Issue.record("started without \(name)")
        } catch .sandboxMissing(let missing) {
            #expect(missing.contains(name), "\(missing)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func declaredPathsMustLieBeneathTheNodesAllowLists() {
        var s = SandboxSettings()
        let declared = SandboxLimits(read: ["/usr/share/zoneinfo", "/data/in"], write: ["/data/out/x"])
        #expect(s.pathOutsideCaps(declared) == nil)  // no allow list: anything
        s.allowRead = ["/usr/share/"]
        s.allowWrite = ["/data/out"]
        // A read path beneath neither list; one beneath the write list would do.
        #expect(s.pathOutsideCaps(declared)?.field == "limits.read[1]")
        #expect(s.pathOutsideCaps(SandboxLimits(read: ["/data/out/y"])) == nil)
        #expect(s.pathOutsideCaps(SandboxLimits(read: ["/usr/sharex"]))?.cause == "/usr/sharex is outside what the node allows (node.sandbox_read: /usr/share/:/data/out)")
        #expect(s.pathOutsideCaps(SandboxLimits(write: ["/data"]))?.field == "limits.write[0]")
        s.allowWrite = []
        #expect(s.pathOutsideCaps(SandboxLimits(write: ["/tmp"]))?.cause == "/tmp is outside what the node allows (node.sandbox_write: nothing)")
    }

    @Test func aProfileReadsBackFromItsJSONForm() {
        let p = SandboxProfile(memoryMiB: 1, cpuSeconds: 2, processes: nil, network: true, read: ["/r"], write: ["/w"])
        #expect(SandboxProfile(json: p.json) == p)
        #expect(SandboxProfile(json: SandboxProfile.unrestricted.json)?.isUnrestricted == true)
    }
}
