import Testing
import ZeroTaskProtocol

@testable import ZeroTaskNode

/// Failing over between brokers (`NodeConfig.brokers`), on the state machine alone with a
/// moving clock: the test plays two brokers, the first of which falls silent.
@Suite struct NodeFailoverMachineTests {
    static let brokers = ["tcp://a:5555", "tcp://b:5555"]

    func moves(_ actions: [NodeAction]) -> [Int] {
        actions.compactMap { if case .useBroker(let index) = $0 { index } else { nil } }
    }

    @Test func aSilentBrokerIsLeftForTheNextWhereTheNodeRegistersAndItsRunningTaskReports() throws {
        let h = NodeMachineHarness(workers: 2) { $0.brokers = Self.brokers }
        let pull = try h.register()
        let started = taskWrites(h.reply(pull, [assignment("t1", "nt.slow")]) + h.tick())
        #expect(started.map(\.tasks) == [["t1"]])
        let worker = try #require(started.first?.worker)
        #expect(h.machine.currentBroker == "tcp://a:5555")
        // Broker a dies: the heartbeat goes unanswered; nothing moves before the request timeout.
        let timeout = h.machine.config.requestTimeout
        #expect(sends(h.advance(h.machine.config.heartbeatInterval), .nodeHeartbeat).count == 1)
        #expect(moves(h.advance(timeout - 0.5)).isEmpty)
        let moved = h.advance(0.6)
        #expect(moves(moved) == [1])
        #expect(h.machine.currentBroker == "tcp://b:5555")
        // In the same turn it registers at b, advertising what it serves.
        let connect = try #require(sends(moved, .nodeConnect).first)
        #expect(connect.advertisement?.methods == [["name": "nt.add"], ["name": "nt.slow"]])
        #expect(kills(moved).isEmpty && cancels(moved).isEmpty, "the running task keeps running")
        let newPull = try #require(sends(h.reply(connect, true) + h.tick(), .nodeTaskPull).first)
        #expect(newPull.results.isEmpty)
        // b does not know t1: the heartbeat's check does not list it (b would have it cancelled).
        let beat = h.advance(h.machine.config.heartbeatInterval)
        let check = try #require(sends(beat, .nodeCheckTasks).first)
        #expect(check.taskIDs == [])
        _ = h.reply(check, [])
        // t1 finishes; its outcome goes to b on its own request, and b's refusal is taken (not resent).
        let done = try #require(sends(h.done("t1", worker: worker, result: 7) + h.tick(), .nodeTasksDone).first)
        #expect(done.results.map(\.taskID) == ["t1"])
        _ = h.reply(done, [RPCError(.invalidTaskID, "unknown task \"t1\"").json])
        #expect(h.machine.orphans.isEmpty && h.machine.doneBuffer.isEmpty)
        // b's own tasks run and report there.
        let second = try #require(taskWrites(h.reply(newPull, [assignment("t2")]) + h.tick()).first?.worker)
        let after = h.done("t2", worker: second, result: 3) + h.tick()
        let reports = (sends(after, .nodeTaskPull) + sends(after, .nodeTasksDone)).flatMap(\.results)
        #expect(reports.map(\.taskID) == ["t2"])
    }

    @Test func resultsCarriedByALostRequestGoToTheNextBrokerAndTheListWrapsAround() throws {
        let h = NodeMachineHarness { $0.brokers = Self.brokers; $0.heartbeatInterval = 1000 }
        let first = try h.register()
        _ = h.reply(first, [assignment("t1")]) + h.tick()
        let carrying = try #require(sends(h.done("t1", worker: 1, result: 3) + h.tick(), .nodeTaskPull).first)
        #expect(carrying.results.map(\.taskID) == ["t1"])
        // The long poll carrying t1's result is never answered: past its wait and the request
        // timeout the node moves to b, and the result goes there.
        let moved = h.advance(h.machine.config.pullWait + h.machine.config.requestTimeout + 0.1)
        #expect(moves(moved) == [1])
        let connect = try #require(sends(moved, .nodeConnect).first)
        let next = h.reply(connect, true) + h.tick()
        let resent = sends(next, .nodeTasksDone) + sends(next, .nodeTaskPull)
        #expect(resent.flatMap(\.results).map(\.result) == [3])
        // b goes silent in turn (its registration answered, then nothing): back to a.
        let again = h.advance(h.machine.config.pullWait + h.machine.config.requestTimeout + 0.1)
        #expect(moves(again) == [0])
        #expect(h.machine.currentBroker == "tcp://a:5555")
        #expect(sends(again, .nodeConnect).count == 1)
    }

    @Test func aBrokerThatNeverAnswersRegistrationIsLeftToo() throws {
        let h = NodeMachineHarness { $0.brokers = Self.brokers }
        h.startWorkers()
        #expect(sends(h.tick(), .nodeConnect).count == 1)
        let moved = h.advance(h.machine.config.requestTimeout + 0.1)
        #expect(moves(moved) == [1])
        #expect(sends(moved, .nodeConnect).count == 1)
    }

    @Test func aDroppedConnectionFailsOverAtOnce() throws {
        let h = NodeMachineHarness { $0.brokers = Self.brokers }
        let pull = try h.register()
        _ = h.reply(pull, [assignment("t1")]) + h.tick()
        // The broker's process ended: its connection dropped, long before any deadline.
        let moved = h.machine.brokerDisconnected(now: h.now) + h.tick()
        #expect(moves(moved) == [1])
        #expect(sends(moved, .nodeConnect).count == 1)
        #expect(h.machine.orphans == ["t1"])
        // With one broker a dropped connection changes nothing: libzmq reconnects by itself.
        let single = NodeMachineHarness()
        _ = try single.register()
        #expect(single.machine.brokerDisconnected(now: single.now).isEmpty)
    }

    @Test func oneBrokerMeansNoFailover() throws {
        let h = NodeMachineHarness()
        _ = try h.register()
        _ = h.advance(h.machine.config.heartbeatInterval)
        #expect(moves(h.advance(h.machine.config.requestTimeout + 1)).isEmpty)
        #expect(h.machine.currentBroker == "tcp://127.0.0.1:5555")
    }
}
