#if canImport(Glibc)
import Glibc
#endif
import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

@testable import ZeroTaskNode

/// The node's rules, on the state machine alone: no sockets, no processes, a clock the test
/// moves. The test plays the broker (replies) and the workers (ready, done, exit).
@Suite struct NodeStateMachineTests {
    // MARK: Session

    @Test func registersOnceAWorkerServesAndAgainWhenTheBrokerForgetsTheNode() throws {
        let h = NodeMachineHarness()
        #expect(spawns(h.machine.generationActivated(1, unavailable: [], limits: [:], now: h.now)) == [h.spec(1)])
        _ = h.machine.workerSpawned(1, ok: true, now: h.now)
        #expect(sends(h.tick(), .nodeConnect).isEmpty, "nothing served yet: no registration")
        _ = h.machine.workerSent(.ready(pid: 0, methods: [["name": "nt.add"]], problems: []), worker: 1, now: h.now)
        let connect = sends(h.tick(), .nodeConnect)
        #expect(connect.count == 1)
        #expect(connect.first?.advertisement?.methods == [["name": "nt.add"]])
        #expect(sends(h.tick(), .nodeConnect).isEmpty, "one registration at a time")
        let pull = sends(h.reply(try #require(connect.first), true) + h.tick(), .nodeTaskPull)
        #expect(pull.count == 1)

        // The broker restarted and does not know the node: it registers again.
        let heartbeat = try #require(sends(h.advance(h.machine.config.heartbeatInterval), .nodeHeartbeat).first)
        let again = sends(h.reply(heartbeat, error: RPCError(.invalidNodeID, "unknown node n1")) + h.tick(), .nodeConnect)
        #expect(again.count == 1)
        // The pull parked at the old broker is given up (a new one goes out) ...
        #expect(sends(h.reply(try #require(again.first), true) + h.tick(), .nodeTaskPull).count == 1)
        // ... but if it is answered after all, its tasks are this node's: they run.
        #expect(taskWrites(h.reply(try #require(pull.first), [assignment("t1")]) + h.tick()).map(\.tasks) == [["t1"]])
    }

    @Test func aLostRequestIsGivenUpAndTheResultsItCarriedGoAgain() throws {
        let h = NodeMachineHarness { $0.heartbeatInterval = 1000 }
        let first = try h.register()
        _ = h.reply(first, [assignment("t1")]) + h.tick()
        h.now += 0.5
        let carrying = try #require(sends(h.done("t1", worker: 1, result: 3) + h.tick(), .nodeTaskPull).first)
        #expect(carrying.results.map(\.taskID) == ["t1"])
        // No answer within the long poll's wait plus the request timeout: a new pull, the same result.
        #expect(sends(h.advance(14), .nodeTaskPull).isEmpty)
        let retry = sends(h.advance(1.5), .nodeTaskPull)
        #expect(retry.count == 1)
        #expect(retry.first?.results.map(\.result) == [3])
        // The lost pull's late answer still runs its tasks.
        #expect(taskWrites(h.reply(carrying, [assignment("t2")]) + h.tick()).map(\.tasks) == [["t2"]])
    }

    @Test func aBrokerThatStopsAnsweringHeartbeatsIsRegisteredWithAgain() throws {
        let h = NodeMachineHarness { $0.heartbeatInterval = 2 }
        _ = try h.register()
        #expect(sends(h.advance(2), .nodeHeartbeat).count == 1)
        // Unanswered for the request timeout: probe by registering (a restarted broker answers that).
        #expect(sends(h.advance(h.machine.config.requestTimeout), .nodeConnect).count == 1)
    }

    // MARK: Scheduling

    @Test func pullsAskForFreeSlotsAndFastTasksQueueBehindARunningOne() throws {
        let h = NodeMachineHarness(workers: 1)
        let first = try h.register()
        #expect(first.max == 1)
        // Speed unknown: one task per worker, and nothing more asked for while it runs.
        var actions = h.reply(first, [assignment("t1")]) + h.tick()
        #expect(taskWrites(actions).map(\.tasks) == [["t1"]])
        #expect(sends(actions, .nodeTaskPull).isEmpty)

        // t1 took half a millisecond: nt.add is fast; an idle worker is one slot.
        h.now += 0.0005
        let second = try #require(sends(h.done("t1", worker: 1) + h.tick(), .nodeTaskPull).first)
        #expect(second.max == 1)
        // With a fast task running, the worker may hold 5 ms of expected work: 10 tasks, 9 more.
        actions = h.reply(second, [assignment("t2")]) + h.tick()
        #expect(taskWrites(actions).map(\.tasks) == [["t2"]])
        let prefetch = sends(actions, .nodeTaskPull)
        #expect(prefetch.first?.max == 9)

        // Fast tasks go behind t2 on its worker, in one write; a method not known to be fast
        // waits for an idle worker.
        let fast = (3...10).map { "t\($0)" }
        actions = h.reply(try #require(prefetch.first), .array(fast.map { assignment($0) } + [assignment("s1", "nt.slow")])) + h.tick()
        #expect(taskWrites(actions).map(\.worker) == [1])
        #expect(taskWrites(actions).first?.tasks == fast)
    }

    @Test func whatWaitsBehindATaskThatTurnsSlowGoesBackToTheBroker() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        h.now += 0.0005
        let pull = try #require(sends(h.done("t1", worker: 1) + h.tick(), .nodeTaskPull).first)
        let prefetch = try #require(sends(h.reply(pull, [assignment("t2")]) + h.tick(), .nodeTaskPull).first)
        var actions = h.reply(prefetch, [assignment("t3"), assignment("t4"), assignment("s1", "nt.slow")]) + h.tick()
        #expect(taskWrites(actions).first?.tasks == ["t3", "t4"])

        // Not yet slow: nothing goes back.
        actions = h.advance(0.05)
        #expect(sends(actions, .nodeTaskRelease).isEmpty)
        #expect(cancels(actions).isEmpty)
        // t2 has run too long for a fast task: the tasks queued behind it and the one waiting go back.
        actions = h.advance(0.06)
        #expect(Set(cancels(actions)) == ["t3", "t4"])
        let release = sends(actions, .nodeTaskRelease)
        #expect(release.count == 1)
        #expect(Set(release.first?.taskIDs ?? []) == ["t3", "t4", "s1"])

        // The worker skips what was handed back; only t2's outcome is reported.
        actions = h.done("t2", worker: 1) + h.tick()
        for id in ["t3", "t4"] {
            actions += h.machine.workerSent(.done(id: id, outcome: .failure(.taskCancelled(id)), residentBytes: nil), worker: 1, now: h.now)
        }
        actions += h.advance(0.001)
        let reported = (sends(actions, .nodeTaskPull) + sends(actions, .nodeTasksDone)).flatMap(\.results)
        #expect(reported.map(\.taskID) == ["t2"])
    }

    /// A task handed back while queued behind a slow one may already have run when its cancel
    /// reaches the worker, which then keeps that cancel; when the broker gives the same task to
    /// this node again, the worker skips it. That skip is no cancel: the node sends the task
    /// again, and its real outcome is reported (a bench at 200 in flight saw tasks fail as
    /// cancelled that nobody cancelled).
    @Test func aTaskSkippedForAnOlderCopysCancelRunsAgainAndIsNotReportedCancelled() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        h.now += 0.0005
        let pull = try #require(sends(h.done("t1", worker: 1) + h.tick(), .nodeTaskPull).first)
        let prefetch = try #require(sends(h.reply(pull, [assignment("t2")]) + h.tick(), .nodeTaskPull).first)
        var actions = h.reply(prefetch, [assignment("t3"), assignment("t5")]) + h.tick()
        #expect(taskWrites(actions).first?.tasks == ["t3", "t5"])
        actions = h.done("t2", worker: 1) + h.tick()
        // The worker skips t3: it still held the cancel of an earlier copy of t3 (one handed
        // back while queued behind a slow task, which had run before its cancel came).
        actions = h.machine.workerSent(.done(id: "t3", outcome: .failure(.taskCancelled("t3")), residentBytes: nil), worker: 1, now: h.now)
            + h.tick()
        // Not reported as cancelled: sent to the worker again, behind t5.
        #expect(taskWrites(actions).first?.tasks == ["t3"])
        var reported = (sends(actions, .nodeTaskPull) + sends(actions, .nodeTasksDone)).flatMap(\.results)
        #expect(!reported.contains { $0.taskID == "t3" })
        // The worker runs t5 (already queued), then t3 again: both real outcomes reach the
        // broker, none is lost to a mismatch between the two queues (which left tasks to time out).
        actions = h.done("t5", worker: 1, result: 5) + h.done("t3", worker: 1, result: 3) + h.tick() + h.advance(0.001)
        reported = (sends(actions, .nodeTaskPull) + sends(actions, .nodeTasksDone)).flatMap(\.results)
        #expect(reported.map(\.taskID) == ["t5", "t3"])
        #expect(reported.map(\.result) == [5, 3])
    }

    // MARK: Supervision

    @Test func aTaskPastItsDeadlineFailsAndItsWorkerIsReplaced() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1", timeout: 1)]) + h.tick()
        #expect(kills(h.advance(0.5)).isEmpty)
        let actions = h.advance(0.6)
        #expect(kills(actions) == [1])
        #expect(spawns(actions) == [h.spec(2)])
        let reported = sends(actions, .nodeTasksDone).flatMap(\.results)
        #expect(reported.map(\.taskID) == ["t1"])
        #expect(reported.first?.error?.code == ErrorCode.taskTimedOut.rawValue)
    }

    @Test func aCancelledTaskThatRunsOnPastTheGraceLosesItsWorker() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        #expect(cancels(h.machine.cancelRequested("t1", now: h.now)) == ["t1"])
        #expect(kills(h.advance(h.machine.config.cancelGrace - 0.1)).isEmpty)
        let actions = h.advance(0.2)
        #expect(kills(actions) == [1])
        let reported = sends(actions, .nodeTasksDone).flatMap(\.results)
        #expect(reported.first?.error?.code == ErrorCode.taskCancelled.rawValue)
    }

    @Test func aCancelledTaskThatStopsKeepsItsWorkerAndStaysCancelled() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        _ = h.machine.cancelRequested("t1", now: h.now)
        h.now += 0.5
        // The plugin returned a result anyway: the task was cancelled.
        var actions = h.done("t1", worker: 1, result: 3) + h.tick()
        actions += h.advance(h.machine.config.cancelGrace)
        #expect(kills(actions).isEmpty)
        let reported = (sends(actions, .nodeTaskPull) + sends(actions, .nodeTasksDone)).flatMap(\.results)
        #expect(reported.first?.error?.code == ErrorCode.taskCancelled.rawValue)
    }

    @Test func aWorkerThatCrashesFailsItsTaskWithTheSignalAndIsReplaced() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        let actions = h.machine.workerExited(1, .signaled(SIGSEGV), oomKills: 0, now: h.now) + h.tick()
        #expect(spawns(actions) == [h.spec(2)])
        let error = sends(actions, .nodeTasksDone).flatMap(\.results).first?.error
        #expect(error?.code == ErrorCode.workerCrashed.rawValue)
        #expect(error?.data?["signal"] == "SIGSEGV")
    }

    @Test func aWorkerThatDiesWhileLoadingIsRestartedAfterAGrowingDelay() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = spawns(h.machine.generationActivated(1, unavailable: [], limits: [:], now: h.now))
        _ = h.machine.workerSpawned(1, ok: true, now: h.now)
        _ = h.machine.workerExited(1, .signaled(SIGBUS), oomKills: 0, now: h.now)
        #expect(spawns(h.tick()).isEmpty)
        #expect(spawns(h.advance(0.15)).isEmpty)
        #expect(spawns(h.advance(0.06)) == [h.spec(2)])
        _ = h.machine.workerSpawned(2, ok: true, now: h.now)
        _ = h.machine.workerExited(2, .exited(1), oomKills: 0, now: h.now)
        #expect(spawns(h.advance(0.35)).isEmpty)
        #expect(spawns(h.advance(0.06)) == [h.spec(3)])
    }

    // MARK: Sandbox profiles

    @Test func aTaskWaitsForAWorkerOfItsProfileAndAnIdleWorkerOfAnotherMakesWayForOne() throws {
        let h = NodeMachineHarness(workers: 2)
        let methods = ["nt.add", "nt.slow", "nt.big"]
        // Two methods declare nothing (the primary profile), one a memory limit of its own.
        let first = try h.register(methods: methods, limits: ["nt.add": SandboxLimits(), "nt.slow": SandboxLimits(),
                                                              "nt.big": SandboxLimits(memoryMiB: 64)])
        let big = h.machine.sandbox.profile(of: "nt.big")
        #expect(big != h.machine.sandbox.primary, "nt.big has a profile of its own")
        #expect(h.machine.sandbox.profile(of: "nt.add") == h.machine.sandbox.primary)

        // Both workers have the primary profile: neither takes nt.big's tasks, and one idle
        // worker (only one) makes way for a worker of nt.big's profile.
        var actions = h.reply(first, [assignment("b1", "nt.big"), assignment("b2", "nt.big")]) + h.tick()
        #expect(taskWrites(actions).isEmpty)
        #expect(exits(actions) == [1])
        actions = h.tick()
        #expect(spawns(actions) == [WorkerSpec(id: 3, generation: 1, profile: big)])
        #expect(exits(actions).isEmpty, "worker 2 stays: a worker of nt.big's profile is starting")
        _ = h.machine.workerExited(1, .exited(0), oomKills: 0, now: h.now)

        // The new worker takes b1; b2 waits for it rather than go to idle worker 2.
        h.ready(3, methods: methods)
        actions = h.tick()
        #expect(taskWrites(actions).map(\.worker) == [3])
        #expect(taskWrites(actions).first?.tasks == ["b1"])
        #expect(exits(actions).isEmpty)
        #expect(spawns(actions).isEmpty)
        actions = h.done("b1", worker: 3) + h.tick()
        #expect(taskWrites(actions).map(\.worker) == [3])
        #expect(taskWrites(actions).first?.tasks == ["b2"])
    }

    @Test func aWorkerEndedByItsMemoryOrCPULimitFailsItsTaskWithThatLimit() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        let profile = h.machine.sandbox.primary
        // The kernel's OOM killer ended the worker in its memory cgroup (a SIGKILL).
        var actions = h.machine.workerExited(1, .signaled(SIGKILL), oomKills: 1, now: h.now) + h.tick()
        var error = sends(actions, .nodeTasksDone).flatMap(\.results).first?.error
        #expect(error?.code == ErrorCode.resourceLimit.rawValue)
        #expect(error?.data == ["limit": "memory_mib", "memory_mib": .int(Int64(profile.memoryMiB))])

        // RLIMIT_CPU's SIGXCPU.
        h.ready(try #require(spawns(actions).first?.id))
        let pull = try #require(sends(h.tick(), .nodeTaskPull).first)
        _ = h.reply(pull, [assignment("t2")]) + h.tick()
        actions = h.machine.workerExited(2, .signaled(SIGXCPU), oomKills: 0, now: h.now) + h.tick()
        error = sends(actions, .nodeTasksDone).flatMap(\.results).first?.error
        #expect(error?.code == ErrorCode.resourceLimit.rawValue)
        #expect(error?.data == ["limit": "cpu_seconds", "cpu_seconds": .int(Int64(profile.cpuSeconds))])
    }

    // MARK: Stopping

    @Test func aDrainHandsBackWhatHasNotStartedAndDisconnectsOnceTheRunningTaskEnds() throws {
        let h = NodeMachineHarness(workers: 2)
        let first = try h.register()
        let pull = try #require(sends(h.reply(first, [assignment("t1")]) + h.tick(), .nodeTaskPull).first)
        _ = h.machine.drain(now: h.now)
        // A task that arrives now goes straight back.
        var actions = h.reply(pull, [assignment("t2")]) + h.tick()
        #expect(taskWrites(actions).isEmpty)
        #expect(sends(actions, .nodeTaskRelease).first?.taskIDs == ["t2"])
        #expect(sends(actions, .nodeDisconnect).isEmpty, "t1 still runs")

        actions = h.done("t1", worker: 1) + h.tick()
        let done = sends(actions, .nodeTasksDone)
        let disconnect = sends(actions, .nodeDisconnect)
        #expect(done.flatMap(\.results).map(\.taskID) == ["t1"])
        #expect(disconnect.count == 1)
        #expect(!h.machine.isDone, "waits for the results to be taken")
        _ = h.reply(try #require(done.first), true) + h.reply(try #require(disconnect.first), true) + h.tick()
        #expect(h.machine.isDone)
    }

    @Test func aHardStopKillsRunningTasksAndHandsThemBackWithTheDisconnect() throws {
        let h = NodeMachineHarness(workers: 1)
        _ = h.reply(try h.register(), [assignment("t1")]) + h.tick()
        _ = h.machine.hardStop(now: h.now)
        let actions = h.tick()
        #expect(kills(actions) == [1])
        #expect(sends(actions, .nodeTasksDone).isEmpty, "nothing is said of t1: the broker queues it again")
        let disconnect = sends(actions, .nodeDisconnect)
        #expect(disconnect.count == 1)
        _ = h.reply(try #require(disconnect.first), true) + h.tick()
        #expect(h.machine.isDone)
    }

    /// Outcomes are batched by the size of their JSON (`takeDone`, under `max_message_bytes`),
    /// counted without writing it: the same count as the JSON they become.
    @Test func anOutcomesSizeIsItsJSONsSize() {
        let outcomes = [
            NodeRequest.Outcome(taskID: "t1", outcome: .success(["sum": 3, "text": "ünïcode"])),
            NodeRequest.Outcome(taskID: "task-2", outcome: .failure(RPCError(code: -32060, message: "timed out"))),
            NodeRequest.Outcome(taskID: "t3", outcome: .failure(RPCError(code: -32061, message: "crashed", data: ["signal": "SIGSEGV"]))),
        ]
        for o in outcomes { #expect(o.approximateSize == o.json.approximateSize, "\(o)") }
    }

    @Test func resultsGoInBatchesThatFitTheMessageLimit() throws {
        let h = NodeMachineHarness { $0.maxBatchBytes = 100 }
        let big = JSONValue.string(String(repeating: "x", count: 60))
        h.machine.report("t1", .success(big))
        h.machine.report("t2", .success(1))
        h.machine.report("t3", .success(2))
        #expect(h.machine.takeDone().map(\.taskID) == ["t1"])
        #expect(h.machine.takeDone().map(\.taskID) == ["t2", "t3"])
    }
}
