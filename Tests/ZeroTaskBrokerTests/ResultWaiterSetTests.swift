import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// Result waits cost what they name: repeats are dropped, answering one waiter does not touch
/// the others, and caps keep a flood of parked waits bounded. Injected clock, no sockets.
@Suite struct ResultWaiterSetTests {
    typealias Harness = BrokerStateTests.Harness

    static func wait(_ h: inout Harness, _ ids: [String], client: String = "alice", peer: String = "C", wait: Double = 30) -> BrokerAnswer {
        h.run(.waitResults(clientID: client, taskIDs: ids, wait: wait), peer: peer)
    }

    /// The issue's freeze, scaled down: many waits each naming one queued task many times, then
    /// the task's cancel. Each waiter holds the id once, and each is answered with one entry.
    @Test func repeatedIDsInAWaitCountOnce() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        for _ in 0..<50 {
            #expect(Self.wait(&h, Array(repeating: "alice-a", count: 400)) == .deferred)
        }
        #expect(h.state.resultWaiters.count == 50)
        #expect(h.state.resultWaiters.idCount == 50, "each parked wait must hold the id once")
        #expect(h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C") == true)
        let replies = h.replies()
        #expect(replies.count == 50)
        for (_, r) in replies { #expect((try? r.outcome.get())?.arrayValue?.count == 1) }
        #expect(h.state.resultWaiters.count == 0 && h.state.resultWaiters.idCount == 0)
        #expect(h.value(.stats, peer: "C")["parked_waits"] == 0)
    }

    @Test func anImmediateAnswerListsEachCompletedTaskOnce() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C")
        guard let r = Self.wait(&h, ["alice-a", "alice-a", "alice-a"]).resultValue else {
            Issue.record("no immediate answer")
            return
        }
        #expect(r.arrayValue?.count == 1)
    }

    /// A waiter on two tasks, answered by one, leaves no trace under the other: the other's
    /// completion answers only its own waiters.
    @Test func answeringAWaiterRemovesItFromEveryTaskItNamed() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        h.submit("b")
        #expect(Self.wait(&h, ["alice-a", "alice-b"]) == .deferred)
        #expect(Self.wait(&h, ["alice-b"]) == .deferred)
        h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C")
        #expect(h.replies().count == 1)
        h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-b"), peer: "C")
        let second = h.replies()
        #expect(second.count == 1)
        let entries = (try? second.first?.1.outcome.get())?.arrayValue ?? []
        #expect(entries.count == 1 && entries.first?["task_id"] == "alice-b")
        #expect(entries.first?["error"]?["code"] == .int(ErrorCode.taskCancelled.rawValue))
    }

    @Test func tooManyIDsInOneWaitIsRefusedNamingTheCap() {
        var h = Harness { $0.maxWaitIDs = 3 }
        h.setUp()
        for n in ["a", "b", "c", "d"] { h.submit(n) }
        // Repeats do not count against the cap.
        #expect(Self.wait(&h, ["alice-a", "alice-b", "alice-a", "alice-c", "alice-c"]) == .deferred)
        guard case .error(let e) = Self.wait(&h, ["alice-a", "alice-b", "alice-c", "alice-d"]) else {
            Issue.record("four distinct ids were accepted")
            return
        }
        #expect(e.code == -32602)
        #expect(e.message.contains("max_wait_ids") && e.message.contains("client_wait_results"), "\(e.message)")
    }

    @Test func parkedWaitsAreCappedPerConnectionAndInAll() {
        var h = Harness {
            $0.maxParkedWaitsPerConnection = 2
            $0.maxParkedWaits = 3
        }
        h.setUp()
        h.submit("a")
        for (client, peer) in [("bob", "D"), ("carol", "E")] {
            h.value(.clientConnect(clientID: client), peer: peer)
            h.value(.submit(clientID: client, Submission(method: "work", params: [], taskID: "a")), peer: peer)
        }
        #expect(Self.wait(&h, ["alice-a"]) == .deferred)
        #expect(Self.wait(&h, ["alice-a"]) == .deferred)
        guard case .error(let perConnection) = Self.wait(&h, ["alice-a"]) else {
            Issue.record("a third wait on one connection was parked")
            return
        }
        #expect(perConnection.code == -32070)
        #expect(perConnection.message.contains("max_parked_waits_per_connection"), "\(perConnection.message)")
        // Another connection may park one more, up to the cap in all.
        #expect(Self.wait(&h, ["bob-a"], client: "bob", peer: "D") == .deferred)
        guard case .error(let inAll) = Self.wait(&h, ["carol-a"], client: "carol", peer: "E") else {
            Issue.record("a fourth wait was parked")
            return
        }
        #expect(inAll.code == -32070 && inAll.message.contains("(max_parked_waits)"), "\(inAll.message)")
        // client_call is refused before it submits anything.
        let before = h.state.taskCount
        let call = h.run(.call(clientID: "carol", Submission(method: "work", params: []), wait: nil), peer: "E")
        guard case .error(let e) = call else {
            Issue.record("client_call was parked past the cap: \(call)")
            return
        }
        #expect(e.code == -32070 && h.state.taskCount == before)
        // An answered wait makes room again.
        h.value(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C")
        _ = h.replies()
        h.submit("b")
        #expect(Self.wait(&h, ["alice-b"]) == .deferred)
    }

    @Test func parkedIDsAreCappedInAll() {
        var h = Harness { $0.maxParkedWaitIDs = 3 }
        h.setUp()
        for n in ["a", "b", "c"] { h.submit(n) }
        #expect(Self.wait(&h, ["alice-a", "alice-b"]) == .deferred)
        guard case .error(let e) = Self.wait(&h, ["alice-b", "alice-c"]) else {
            Issue.record("four parked ids were accepted")
            return
        }
        #expect(e.code == -32070 && e.message.contains("max_parked_wait_ids"), "\(e.message)")
        #expect(Self.wait(&h, ["alice-c"]) == .deferred)
    }

    /// A client's disconnect answers its own waits (found without a scan) and no one else's.
    @Test func disconnectAnswersOnlyThatClientsWaits() {
        var h = Harness()
        h.setUp()
        h.value(.clientConnect(clientID: "bob"), peer: "D")
        h.submit("a")
        h.value(.submit(clientID: "bob", Submission(method: "work", params: [], taskID: "b")), peer: "D")
        #expect(Self.wait(&h, ["alice-a"]) == .deferred)
        #expect(Self.wait(&h, ["bob-b"], client: "bob", peer: "D") == .deferred)
        h.value(.clientDisconnect(clientID: "alice"), peer: "C")
        let replies = h.replies()
        #expect(replies.count == 1 && replies.first?.0.peer == Array("C".utf8))
        #expect(h.state.resultWaiters.count == 1)
    }
}

extension ResultWaiterSetTests {
    /// A wait's answer stays within `max_message_bytes`: as many complete tasks as fit (at least
    /// one), the others for the next wait.
    @Test func aWaitAnswersAsManyResultsAsFitInAMessage() {
        var h = Harness { $0.maxMessageBytes = 2500 }
        h.setUp()
        for n in ["a", "b", "c"] { h.submit(n) }
        let kib = JSONValue.string(String(repeating: "r", count: 1024))
        for id in Harness.ids(h.value(.pull(nodeID: "n1", max: 10, wait: nil, done: []), peer: "N")) {
            h.value(.report(nodeID: "n1", .init(taskID: id, outcome: .success(kib))), peer: "N")
        }
        let first = h.value(.waitResults(clientID: "alice", taskIDs: ["alice-a", "alice-b", "alice-c"], wait: nil), peer: "C").arrayValue ?? []
        #expect(first.compactMap { $0["task_id"]?.stringValue } == ["alice-a", "alice-b"])
        #expect(JSONValue.array(first).jsonBytes.count <= 2500)
        let rest = h.value(.waitResults(clientID: "alice", taskIDs: ["alice-c"], wait: nil), peer: "C").arrayValue ?? []
        #expect(rest.count == 1 && rest.first?["result"] == kib)
    }
}
