import Testing
import ZeroTaskProtocol

@testable import ZeroTaskBroker

/// The broker's rules with no sockets and no sleeping: typed commands go straight to `BrokerState.apply`
/// (no JSON params; the decoder has its own suite, BrokerCommandDecodingTests),
/// time is a number the test moves forward, and outputs are read back from the state.
@Suite struct BrokerStateTests {
    /// A broker state machine with a made-up clock and helpers to call it as a peer would.
    struct Harness {
        var state: BrokerState
        var now: MonotonicInstant = 0
        private var nextID: Int64 = 1

        init(_ configure: (inout BrokerConfig) -> Void = { _ in }) {
            var config = BrokerConfig()
            configure(&config)
            state = BrokerState(config: config, wallClock: { 1_800_000_000 }, idPrefix: "x.")
            // As behind an XPUB that only ZeroTask peers subscribe to: the prototype's duplicate
            // (task_ready) has tests of its own (SeedNodeTests).
            state.interest.taskReady = false
        }

        static func route(_ peer: String, id: JSONValue) -> ReplyRoute {
            ReplyRoute(envelope: [Array(peer.utf8), []], id: id)
        }

        /// Sends `method` (its name without `zerotask.broker.`) with JSON `params` through `handle`,
        /// as the socket loop does. Only for tests whose point is what `handle` does before the
        /// rules: the caller's role (BrokerStateRoleTests), an unknown method, or a param form of
        /// the wire (SeedNodeTests). Rule tests send typed commands: `run`, `value`, `refusal`.
        mutating func call(_ method: String, _ params: JSONValue = [], peer: String, id: JSONValue? = nil,
            canDefer: Bool = true, caller: PeerIdentity? = nil) -> BrokerAnswer
        {
            let rid = id ?? .int(nextID)
            nextID += 1
            let request = Request(method: "zerotask.broker." + method, params: Params(json: params)!, id: rid)
            return state.handle(request, route: Self.route(peer, id: rid), now: now, canDefer: canDefer, caller: caller)
        }

        /// The result of `call` (an issue is recorded for anything else); see `call` for when to use it.
        @discardableResult
        mutating func result(_ method: String, _ params: JSONValue = [], peer: String,
            sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue
        {
            switch call(method, params, peer: peer) {
            case .reply(let r): return r.json
            case let other:
                Issue.record("\(method) \(params) answered \(other)", sourceLocation: sourceLocation)
                return .null
            }
        }

        /// The error of `call` (an issue is recorded for anything else); see `call` for when to use it.
        mutating func error(_ method: String, _ params: JSONValue = [], peer: String,
            sourceLocation: SourceLocation = #_sourceLocation) -> RPCError?
        {
            switch call(method, params, peer: peer) {
            case .error(let e): return e
            case let other:
                Issue.record("\(method) \(params) answered \(other), not an error", sourceLocation: sourceLocation)
                return nil
            }
        }

        /// Applies a typed command, as the decoder would hand it over: no JSON params.
        mutating func run(_ command: BrokerCommand, peer: String, id: JSONValue? = nil, canDefer: Bool = true,
            caller: PeerIdentity? = nil) -> BrokerAnswer
        {
            let rid = id ?? .int(nextID)
            nextID += 1
            return state.apply(command, route: Self.route(peer, id: rid), caller: caller, now: now, canDefer: canDefer)
        }

        /// The typed reply to a command, as the rules answer it (an issue is recorded for anything else).
        @discardableResult
        mutating func reply(_ command: BrokerCommand, peer: String, sourceLocation: SourceLocation = #_sourceLocation) -> BrokerReply? {
            switch run(command, peer: peer) {
            case .reply(let r): return r
            case let other:
                Issue.record("\(command) answered \(other)", sourceLocation: sourceLocation)
                return nil
            }
        }

        /// The result of a typed command as the JSON a peer reads (`BrokerReply.json`; an issue is
        /// recorded for anything else).
        @discardableResult
        mutating func value(_ command: BrokerCommand, peer: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue {
            reply(command, peer: peer, sourceLocation: sourceLocation)?.json ?? .null
        }

        /// The error of a typed command (an issue is recorded for anything else).
        mutating func refusal(_ command: BrokerCommand, peer: String, sourceLocation: SourceLocation = #_sourceLocation) -> RPCError? {
            switch run(command, peer: peer) {
            case .error(let e): return e
            case let other:
                Issue.record("\(command) answered \(other), not an error", sourceLocation: sourceLocation)
                return nil
            }
        }

        /// The notifications published since the last call, as text.
        mutating func published() -> [String] {
            state.takeOutputs().compactMap {
                if case .publish(let n) = $0 { String(decoding: n.bytes, as: UTF8.self) } else { nil }
            }
        }

        /// The late replies queued since the last call, as the rules typed them.
        mutating func lateReplies() -> [(ReplyRoute, BrokerReply)] {
            state.takeOutputs().compactMap { if case .reply(let r, let reply) = $0 { (r, reply) } else { nil } }
        }

        /// The late replies queued since the last call, as the responses their peers read.
        mutating func replies() -> [(ReplyRoute, Response)] {
            lateReplies().map { ($0.0, Response(id: $0.0.id, result: $0.1.json)) }
        }

        /// Connects client "alice" on peer "C" and node "n1" serving `methods` on peer "N".
        mutating func setUp(methods: [JSONValue] = ["work"], workers: Int64 = 0) {
            value(.clientConnect(clientID: "alice"), peer: "C")
            value(.nodeConnect(nodeID: "n1", methods: methods, workers: Int(workers), capacity: nil, unavailable: [:]), peer: "N")
            _ = state.takeOutputs()
        }

        mutating func submit(_ taskID: String, method: String = "work", priority: Int64 = 0, maxRetries: Int64? = nil) {
            let submission = Submission(method: method, params: [], taskID: taskID, priority: priority, maxRetries: maxRetries.map { Int($0) })
            let got = reply(.submit(clientID: "alice", submission), peer: "C")
            #expect(got == nil || got == .id("alice-\(taskID)"))
        }

        mutating func status(_ taskID: String) -> JSONValue {
            value(.clientTask(.status, clientID: "alice", taskID: taskID), peer: "C")
        }

        /// Task ids of a `node_task_pull` answer, as a peer reads it.
        static func ids(_ pulled: JSONValue) -> [String] {
            (pulled.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
        }

        /// Task ids of a `node_task_pull` reply (none for any other reply).
        static func ids(_ pulled: BrokerReply?) -> [String] {
            if case .assignments(let list)? = pulled { list.map(\.id) } else { [] }
        }

        /// Task ids the node `nodeID` on `peer` pulls now (up to `max`, without waiting).
        mutating func pull(_ nodeID: String = "n1", max: Int, peer: String = "N", sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
            Self.ids(reply(.pull(nodeID: nodeID, max: max, wait: nil, done: []), peer: peer, sourceLocation: sourceLocation))
        }
    }

    // MARK: ordering

    @Test func higherPriorityFirstAndFIFOWithinAPriority() {
        var h = Harness()
        h.setUp()
        for (name, priority) in [("a", 0), ("b", 5), ("c", 0), ("d", 5), ("e", -1), ("f", 10), ("g", 0)] {
            h.submit(name, priority: Int64(priority))
        }
        #expect(h.pull(max: 100) == ["f", "b", "d", "a", "c", "g", "e"].map { "alice-\($0)" })
    }

    @Test func oneAtATimeGivesTheSameOrderAcrossMethods() {
        var h = Harness()
        h.setUp(methods: ["work", "other"])
        h.submit("w1", method: "work", priority: 1)
        h.submit("o1", method: "other", priority: 1)
        h.submit("o2", method: "other", priority: 3)
        h.submit("w2", method: "work", priority: 1)
        var order: [String] = []
        for _ in 0..<5 { order += h.pull(max: 1) }
        #expect(order == ["alice-o2", "alice-w1", "alice-o1", "alice-w2"])
    }

    @Test func aTaskClaimedByIDIsSkippedByLaterPulls() {
        var h = Harness()
        h.setUp()
        for name in ["a", "b", "c"] { h.submit(name) }
        #expect(h.reply(.claim(nodeID: nil, taskID: "alice-b"), peer: "N") == .claimed(TaskAssignment(id: "alice-b", method: "work", params: [])))
        // Claimed already: no longer available (the seed answer `{}`).
        #expect(h.reply(.claim(nodeID: nil, taskID: "alice-b"), peer: "N") == .claimed(nil))
        #expect(h.pull(max: 10) == ["alice-a", "alice-c"])
        #expect(h.state.queuedTaskCount == 0)
    }

    @Test func pullsRespectFreeWorkers() {
        var h = Harness()
        h.setUp(workers: 2)
        for name in ["a", "b", "c"] { h.submit(name) }
        #expect(h.pull(max: 10) == ["alice-a", "alice-b"])
        #expect(h.reply(.pull(nodeID: "n1", max: 10, wait: nil, done: []), peer: "N") == .assignments([]))
        #expect(h.reply(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(1))), peer: "N") == .accepted)
        #expect(h.pull(max: 10) == ["alice-c"])
    }

    // MARK: batches and hand-back

    @Test func batchesAnswerEachEntryOnItsOwnInOrder() {
        var h = Harness { $0.maxTaskRetries = 3 }
        h.setUp()
        let undecodable = RPCError.invalidParams("client_new_tasks: tasks[2]: param \"method\" is missing")
        let submitted = h.reply(.submitMany(clientID: "alice", [
            .success(Submission(method: "work", params: [], taskID: "a")),
            .success(Submission(method: "work", params: [], taskID: "b", maxRetries: 9)),
            .failure(undecodable),
            .success(Submission(method: "work", params: [], taskID: "c")),
        ]), peer: "C")
        let capped = RPCError.invalidParams("client_new_tasks: tasks[1]: param \"max_retries\" (9) exceeds the broker's max_task_retries (3)")
        #expect(submitted == .submitted([.success("alice-a"), .failure(capped), .failure(undecodable), .success("alice-c")]))
        #expect(h.pull(max: 5) == ["alice-a", "alice-c"])
        let reported = h.reply(.reportMany(nodeID: "n1", [
            .init(taskID: "alice-a", outcome: .success(1)), .init(taskID: "alice-b", outcome: .success(2)),
            .init(taskID: "alice-c", outcome: .failure(RPCError(.internalError, "no"))),
        ]), peer: "N")
        // alice-b was refused above, so there is no such task to report on.
        #expect(reported == .reported([nil, BrokerError.unknownTask("alice-b").rpcError, nil]))
        #expect(h.status("alice-a") == .int(TaskStatus.finished.rawValue))
        #expect(h.status("alice-c") == .int(TaskStatus.failed.rawValue))
    }

    @Test func releasedTasksGoBackToTheQueueUncountedAndTheReplyCountsThem() {
        var h = Harness()
        h.setUp()
        for name in ["a", "b", "c"] { h.submit(name) }
        #expect(h.pull(max: 2) == ["alice-a", "alice-b"])
        // Only tasks this node holds count: alice-c is queued, and no task is named alice-x.
        #expect(h.reply(.release(nodeID: "n1", taskIDs: ["alice-b", "alice-c", "alice-x", "alice-a"]), peer: "N") == .count(2))
        #expect(h.status("alice-a") == .int(TaskStatus.queued.rawValue))
        // They never started: the attempt is not counted, and they come back in their old order.
        #expect(h.value(.clientTask(.info, clientID: "alice", taskID: "alice-a"), peer: "C")["attempts"] == 0)
        #expect(h.pull(max: 3) == ["alice-a", "alice-b", "alice-c"])
    }

    // MARK: liveness

    @Test func aSilentNodeExpiresAfterNodeTimeoutAndItsTasksAreRequeued() {
        var h = Harness { $0.nodeTimeout = 10 }
        h.setUp()
        h.submit("a")
        h.submit("b")
        _ = h.value(.pull(nodeID: "n1", max: 2, wait: nil, done: []), peer: "N")
        _ = h.published()
        h.now = 8
        h.value(.heartbeat(nodeID: "n1"), peer: "N")
        h.now = 18
        h.state.tick(now: h.now)  // 10 s after the heartbeat: not yet
        #expect(h.status("alice-a") == .int(TaskStatus.assigned.rawValue))
        #expect(h.published().isEmpty)
        h.now = 18.001
        h.state.tick(now: h.now)
        #expect(h.status("alice-a") == .int(TaskStatus.queued.rawValue))
        #expect(h.status("alice-b") == .int(TaskStatus.queued.rawValue))
        // Requeued tasks are announced again, and go to the next node in their old order.
        #expect(h.published() == [
            #"{"method":"zerotask.node.broker_new_task","params":{"method":"work","task_id":"alice-a"},"jsonrpc":"2.0"}"#,
            #"{"method":"zerotask.node.broker_new_task","params":{"method":"work","task_id":"alice-b"},"jsonrpc":"2.0"}"#,
        ])
        // n1 speaking again (from its own connection) is registered again, empty-handed.
        h.value(.heartbeat(nodeID: "n1"), peer: "N")
        h.value(.nodeConnect(nodeID: "n2", methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: "N2")
        #expect(h.pull("n2", max: 5, peer: "N2") == ["alice-a", "alice-b"])
        let info = h.value(.clientTask(.info, clientID: "alice", taskID: "alice-a"), peer: "C")
        #expect(info["attempts"] == 2)
        #expect(info["node_id"] == "n2")
    }

    @Test func retriesExhaustedFailsTheTaskWith32063() {
        var h = Harness { $0.nodeTimeout = 10 }
        h.setUp()
        h.submit("a", maxRetries: 1)
        for (attempt, node) in ["n1", "n2"].enumerated() {
            if attempt > 0 { h.value(.nodeConnect(nodeID: node, methods: ["work"], workers: nil, capacity: nil, unavailable: [:]), peer: node) }
            #expect(h.pull(node, max: 1, peer: attempt == 0 ? "N" : node) == ["alice-a"])
            h.now += 11
            h.state.tick(now: h.now)
        }
        #expect(h.status("alice-a") == .int(TaskStatus.failed.rawValue))
        let e = h.refusal(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C")
        #expect(e?.code == ErrorCode.retriesExhausted.rawValue)
        #expect(e?.data == ["attempts": 2])
        #expect(h.published().last == #"{"method":"zerotask.client.task_result_ready","params":{"task_id":"alice-a"},"jsonrpc":"2.0"}"#)
    }

    @Test func theDefaultRetryLimitComesFromTheConfig() {
        var h = Harness { $0.nodeTimeout = 1; $0.maxRetries = 0 }
        h.setUp()
        h.submit("a")
        _ = h.value(.pull(nodeID: "n1", max: 1, wait: nil, done: []), peer: "N")
        h.now = 2
        h.state.tick(now: h.now)
        #expect(h.refusal(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C")?.code == -32063)
    }

    @Test func aClientIDIsTakenOnlyWhileActiveWithinClientTimeout() {
        var h = Harness { $0.clientTimeout = 30 }
        h.value(.clientConnect(clientID: "alice"), peer: "C1")
        h.now = 29
        #expect(h.refusal(.clientConnect(clientID: "alice"), peer: "C2")?.code == ErrorCode.invalidClientID.rawValue)
        h.now = 59.5
        #expect(h.reply(.clientConnect(clientID: "alice"), peer: "C2") == .id("alice"))
    }

    // MARK: result expiry

    @Test func resultsExpireAfterResultTTL() {
        var h = Harness { $0.resultTTL = 50 }
        h.setUp()
        h.submit("a")
        h.now = 100
        _ = h.value(.claim(nodeID: nil, taskID: "alice-a"), peer: "N")
        h.value(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(5))), peer: "N")
        h.now = 150
        h.state.tick(now: h.now)
        #expect(h.reply(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C") == .value(5))
        // Expiry sweeps run at most once a second, so the result goes at the next sweep.
        h.now = 151
        h.state.tick(now: h.now)
        #expect(h.refusal(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C")?.code == ErrorCode.invalidTaskID.rawValue)
        #expect(h.state.taskCount == 0)
    }

    @Test func unfinishedTasksDoNotExpire() {
        var h = Harness { $0.resultTTL = 1; $0.nodeTimeout = 1e9 }
        h.setUp()
        h.submit("queued")
        h.submit("running")
        _ = h.value(.claim(nodeID: nil, taskID: "alice-running"), peer: "N")
        h.now = 1000
        h.state.tick(now: h.now)
        #expect(h.status("alice-queued") == .int(1000))
        #expect(h.status("alice-running") == .int(3000))
    }

    // MARK: long polls

    @Test func aNodeLongPollIsAnsweredEmptyByTickAtItsDeadline() {
        var h = Harness()
        h.setUp()
        h.now = 100
        #expect(h.run(.pull(nodeID: "n1", max: 4, wait: 5, done: []), peer: "N", id: "pull-1") == .deferred)
        #expect(h.state.nextDeadline == 105)
        h.state.tick(now: 104.999)
        #expect(h.replies().isEmpty)
        h.state.tick(now: 105)
        let replies = h.lateReplies()
        #expect(replies.count == 1)
        #expect(replies.first?.0.envelope == [Array("N".utf8), []])
        #expect(replies.first?.0.id == "pull-1")
        #expect(replies.first?.1 == .assignments([]))
        #expect(h.state.nextDeadline == nil)
    }

    @Test func aParkedNodeGetsANewTaskDirectlyWithoutANotification() {
        var h = Harness()
        h.setUp()
        #expect(h.run(.pull(nodeID: "n1", max: 4, wait: 30, done: []), peer: "N", id: 9) == .deferred)
        h.submit("a")
        let outputs = h.state.takeOutputs()
        #expect(outputs.count == 1)
        guard case .reply(let route, let reply)? = outputs.first else { Issue.record("no reply: \(outputs)"); return }
        #expect(route.id == 9)
        #expect(reply == .assignments([TaskAssignment(id: "alice-a", method: "work", params: [])]))
        #expect(h.status("alice-a") == .int(3000))
    }

    @Test func longPollsAreClampedToMaxWaitAndNeverParkedInABatch() {
        var h = Harness { $0.maxWait = 60 }
        h.setUp()
        #expect(h.run(.pull(nodeID: "n1", max: 1, wait: 1000, done: []), peer: "N", canDefer: false) == .reply(.assignments([])))
        #expect(h.run(.pull(nodeID: "n1", max: 1, wait: 1000, done: []), peer: "N") == .deferred)
        #expect(h.state.nextDeadline == 60)
    }

    @Test func aClientResultLongPollIsAnsweredByCompletionOrByTick() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        h.submit("b")
        #expect(h.run(.waitResults(clientID: "alice", taskIDs: ["alice-a"], wait: 2), peer: "C", id: "w1") == .deferred)
        #expect(h.run(.waitResults(clientID: "alice", taskIDs: ["alice-b"], wait: 3), peer: "C", id: "w2") == .deferred)
        _ = h.value(.claim(nodeID: nil, taskID: "alice-a"), peer: "N")
        h.value(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(5))), peer: "N")
        let done = h.lateReplies()
        #expect(done.count == 1)
        #expect(done.first?.0.id == "w1")
        #expect(done.first?.1 == .entries([TaskResultEntry(taskID: "alice-a", status: .finished, outcome: .success(5))]))
        h.state.tick(now: 2.9)
        #expect(h.lateReplies().isEmpty)
        h.state.tick(now: 3)
        let expired = h.lateReplies()
        #expect(expired.map(\.0.id) == ["w2"])
        #expect(expired.map(\.1) == [.entries([])])
    }


    /// Many parked calls at once (as under load): each completion answers exactly the polls on
    /// its task, a poll on several tasks is answered once, and the rest expire at their own
    /// deadlines, earliest first, however many were answered early before them.
    @Test func manyParkedPollsAreAnsweredByTheirOwnTasksAndExpireInDeadlineOrder() {
        var h = Harness { $0.nodeTimeout = 1000 }
        h.setUp()
        for i in 0..<300 {
            let answer = h.run(.call(clientID: "alice", Submission(method: "work", params: [], taskID: "t\(i)"), wait: Double(10 + i % 7)),
                peer: "C", id: .int(Int64(i)))
            #expect(answer == .deferred)
        }
        #expect(h.run(.waitResults(clientID: "alice", taskIDs: ["alice-t5", "alice-t6"], wait: 30), peer: "C", id: "pair") == .deferred)
        #expect(h.pull(max: 300).count == 300)
        // Finish the even ones: each answers its own call; t6 also answers the pair, t5 not again.
        for i in stride(from: 0, to: 300, by: 2) { h.value(.report(nodeID: nil, .init(taskID: "alice-t\(i)", outcome: .success(.int(Int64(i))))), peer: "N") }
        let answered = h.lateReplies()
        #expect(answered.count == 151)
        var expected: Set<String> = ["\"pair\""]
        for i in stride(from: 0, to: 300, by: 2) { expected.insert("\(i)") }
        #expect(Set(answered.map(\.0.id.jsonString)) == expected)
        func finished(_ i: Int64) -> TaskResultEntry { TaskResultEntry(taskID: "alice-t\(i)", status: .finished, outcome: .success(.int(i))) }
        // The pair is answered once, by t6, with t6's entry only (t5 is not done yet).
        #expect(answered.first { $0.0.id == "pair" }?.1 == .entries([finished(6)]))
        for (route, reply) in answered where route.id != "pair" {
            guard case .int(let i) = route.id else { continue }
            #expect(reply == .entry(finished(i)))
        }
        h.value(.report(nodeID: nil, .init(taskID: "alice-t5", outcome: .success(5))), peer: "N")
        #expect(h.lateReplies().map(\.0.id) == [5])
        // The odd ones expire by deadline: 10 + i % 7 seconds.
        #expect(h.state.nextDeadline == 10)
        var expiredAt: [Int64: Double] = [:]
        for t in stride(from: 9.5, through: 17, by: 0.5) {
            h.state.tick(now: .init(seconds: t))
            for (route, reply) in h.lateReplies() {
                guard case .int(let i) = route.id else { continue }
                expiredAt[i] = t
                // A call whose wait ends first says where its task stands, without an outcome.
                #expect(reply == .entry(TaskResultEntry(taskID: "alice-t\(i)", status: .assigned, outcome: nil)))
            }
        }
        let odd = (0..<300).filter { $0 % 2 == 1 && $0 != 5 }.map { Int64($0) }
        #expect(expiredAt.keys.sorted() == odd)
        #expect(odd.allSatisfy { expiredAt[$0] == Double(10 + $0 % 7) })
        #expect(h.state.nextDeadline == nil)
    }
    // MARK: outputs

    @Test func publishedNotificationsAreExactBytesMatchingTheirPrefixes() {
        var h = Harness()
        h.setUp(methods: ["add"])
        h.value(.submit(clientID: "alice", Submission(method: "add", params: [2, 3], taskID: "t1")), peer: "C")
        let newTask = h.state.takeOutputs()
        #expect(newTask.count == 1)
        guard case .publish(let notification)? = newTask.first else { Issue.record("no publish"); return }
        // The rules decide a value; its bytes are written at the edge.
        #expect(notification == .newTask(method: "add", taskID: "alice-t1"))
        let expected = #"{"method":"zerotask.node.broker_new_task","params":{"method":"add","task_id":"alice-t1"},"jsonrpc":"2.0"}"#
        #expect(notification.bytes == Array(expected.utf8))
        #expect(expected.hasPrefix(Notifications.newTaskPrefix(method: "add")))
        // takeOutputs hands them over once.
        #expect(h.state.takeOutputs().isEmpty)

        _ = h.value(.claim(nodeID: nil, taskID: "alice-t1"), peer: "N")
        #expect(h.published().isEmpty)
        h.value(.report(nodeID: nil, .init(taskID: "alice-t1", outcome: .success(5))), peer: "N")
        let ready = #"{"method":"zerotask.client.task_result_ready","params":{"task_id":"alice-t1"},"jsonrpc":"2.0"}"#
        #expect(h.published() == [ready])
        #expect(ready.hasPrefix(Notifications.resultReadyPrefix(clientID: "alice")))
        #expect(String(decoding: Notifications.nodeStatusRequest(), as: UTF8.self)
            == #"{"method":"zerotask.node.broker_node_status","params":{},"jsonrpc":"2.0"}"#)
    }

    @Test func cancellingARunningTaskTellsItsNodeThenTheClient() {
        var h = Harness()
        h.setUp()
        h.submit("a")
        _ = h.value(.claim(nodeID: nil, taskID: "alice-a"), peer: "N")
        _ = h.published()
        #expect(h.reply(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C") == .flag(true))
        #expect(h.published() == [
            #"{"method":"zerotask.node.task_cancel","params":{"node_id":"n1","task_id":"alice-a"},"jsonrpc":"2.0"}"#,
            #"{"method":"zerotask.client.task_result_ready","params":{"task_id":"alice-a"},"jsonrpc":"2.0"}"#,
        ])
        #expect(h.refusal(.clientTask(.result, clientID: "alice", taskID: "alice-a"), peer: "C")?.code == -32062)
        // The node's late report of a cancelled task is accepted quietly.
        #expect(h.reply(.report(nodeID: nil, .init(taskID: "alice-a", outcome: .success(1))), peer: "N") == .accepted)
        #expect(h.reply(.clientTask(.cancel, clientID: "alice", taskID: "alice-a"), peer: "C") == .flag(false))
    }

    @Test func requestsOutsideTheBrokerNamespaceAreNotFound() {
        var h = Harness()
        let answer = h.state.handle(Request(method: "add", params: .positional([1, 2]), id: 1), route: Harness.route("P", id: 1),
            now: 0, canDefer: true)
        #expect(answer == .error(RPCError(.methodNotFound, "method not found: add")))
        // Through `handle` on purpose: a method the broker does not have never becomes a command.
        #expect(h.error("nothing", peer: "P")?.code == -32601)
    }
}
