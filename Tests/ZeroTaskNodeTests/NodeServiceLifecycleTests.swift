#if canImport(Glibc)
import Glibc
#endif
import Foundation
import ServiceLifecycle
import ZeroTaskLifecycle
import Synchronization
import Testing
import ZeroTaskNode
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `NodeService` as a swift-service-lifecycle `Service` in this process (its workers are real
/// `zerotask worker` processes): graceful shutdown drains, cancellation stops at once.
@Suite struct NodeServiceLifecycleTests {
    static func node(_ h: NodeHarness, id: String) throws -> NodeService {
        // What the executable sets up for a node process (ServiceProcess.configure).
        signal(SIGPIPE, SIG_IGN)
        var config = NodeConfig()
        config.broker = h.broker.request
        config.publish = h.broker.publish
        config.pluginsDir = h.plugins
        config.workers = 1
        config.nodeID = id
        config.heartbeatInterval = h.heartbeat
        // Far longer than any wait below: only a stop that does not drain ends in time.
        config.drainGrace = 600
        config.workerExecutable = Binaries.zerotask
        return NodeService(config: config)
    }

    /// Polls `condition` until it holds or `seconds` pass, sleeping between tries without holding
    /// a thread of the cooperative pool (two here, often held by the suite's synchronous tests:
    /// deadlines are generous for that reason).
    static func within(_ seconds: Double, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try condition()
    }

    @Test func cancellationStopsAtOnceAndHandsTheRunningTaskBack() async throws {
        let h = try NodeHarness()
        let node = try Self.node(h, id: "cancelled")
        let ended = Atomic<Bool>(false)
        let run = Task(executorPreference: QueueExecutor.shared) {
            defer { ended.store(true, ordering: .releasing) }
            try await node.run()
        }
        #expect(try await Self.within(30) { try h.serves("nt.sleep", node: "cancelled") })
        let tid = try h.submit("nt.sleep", [600_000])
        #expect(try await Self.within(30) { try h.client.result("client_task_status", ["tester", tid]) == .int(5000) })
        run.cancel()
        // The drain grace is 600 s: only a stop that does not drain ends within this.
        #expect(try await Self.within(30) { ended.load(ordering: .acquiring) }, "the node still runs after cancellation")
        #expect(try h.client.result("client_task_status", ["tester", tid]) == .int(1000))
        #expect(try h.client.result("nodes") == [])
    }

    @Test func gracefulShutdownOfTheGroupDrainsTheRunningTask() async throws {
        let h = try NodeHarness()
        let node = try Self.node(h, id: "graceful")
        let group = ServiceGroup(configuration: .init(services: [.init(service: node)], logger: node.logger))
        let ended = Atomic<Bool>(false)
        let run = Task(executorPreference: QueueExecutor.shared) {
            defer { ended.store(true, ordering: .releasing) }
            try await group.run()
        }
        #expect(try await Self.within(30) { try h.serves("nt.sleep", node: "graceful") })
        // Long enough that RUNNING is seen however loaded the machine is (a 1.5 s task could
        // finish between two looks under the full suite).
        let tid = try h.submit("nt.sleep", [5000])
        // Running on the node (RUNNING, said once it has run 20 ms, and kept for its 5 s), or
        // done already. Not the broker's `started`: that is its assignment time, and a drain that
        // overtakes the assignment rightly hands the task back (it never started here).
        var status: JSONValue = .null
        try #require(try await Self.within(120) {
            status = try h.client.result("client_task_status", ["tester", tid])
            return status == .int(TaskStatus.running.rawValue) || status == .int(TaskStatus.finished.rawValue)
        }, "the task never ran (status \(status))")
        await group.triggerGracefulShutdown()
        #expect(try await Self.within(120) { ended.load(ordering: .acquiring) })
        try await run.value
        // Drained: the task finished on this node before it disconnected.
        #expect(try h.outcome(tid) == .success(5000))
        #expect(try h.client.result("nodes") == [])
    }
}

/// Runs the service under test on a dispatch queue of its own, not on Swift's cooperative pool:
/// the suite's synchronous tests can hold every thread of that pool (two on a 2-core machine)
/// for seconds, and the service would not start before the test's deadline.
final class QueueExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = QueueExecutor()
    private let queue = DispatchQueue(label: "zerotask-test-service", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
