import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

@testable import ZeroTaskBroker

/// Notifications are built and sent only when somebody subscribed to them.
@Suite struct NotificationInterestTests {
    func interest(_ subs: [String]) -> NotificationInterest {
        NotificationInterest(subscriptions: subs.map { Array($0.utf8) })
    }

    @Test func prefixesMatchTheKindsTheyCanSelect() {
        #expect(interest([]) == .none)
        #expect(interest([""]) == .all)
        #expect(interest(["{\"method\":\"zerotask."]) == .all)
        let perMethod = interest([Notifications.newTaskPrefix(method: "math.add")])
        #expect(perMethod == NotificationInterest(newTask: true, resultReady: false, cancelTask: false, nodeStatus: false))
        let client = interest([Notifications.resultReadyPrefix(clientID: "me")])
        #expect(client == NotificationInterest(newTask: false, resultReady: true, cancelTask: false, nodeStatus: false))
        #expect(interest(["{\"method\":\"zerotask.node.broker_node_status\""]).nodeStatus)
        #expect(interest(["something else"]) == .none)
        // The prototype's name: wanted by a subscription covering it, and by no other.
        let ready = interest(["{\"method\":\"zerotask.node.task_ready\""])
        #expect(ready == NotificationInterest(newTask: false, resultReady: false, cancelTask: false, nodeStatus: false, taskReady: true))
        #expect(interest(["{\"method\":\"zerotask.node."]).taskReady)
        #expect(!perMethod.taskReady && !client.taskReady)
        #expect(!interest(["{\"method\":\"zerotask.node.broker_node_status\""]).taskReady)
    }

    @Test func aStateWithNoSubscribersPublishesNothing() {
        var state = BrokerState(wallClock: { 0 }, idPrefix: "t.")
        state.interest = .none
        let route = ReplyRoute(envelope: [[1]], id: 1)
        _ = state.apply(.clientConnect(clientID: "c"), route: route, now: 0)
        _ = state.apply(.submit(clientID: "c", Submission(method: "m", params: [])), route: route, now: 0)
        #expect(state.takeOutputs().isEmpty)
        state.interest = .all
        _ = state.apply(.submit(clientID: "c", Submission(method: "m", params: [])), route: route, now: 0)
        #expect(state.takeOutputs().count == 2)  // broker_new_task and the prototype's task_ready
    }

    @Test func nodesRefreshAsksEveryNodeForItsStatus() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        let sub = try TestSubscriber(broker, prefixes: ["{\"method\":\"zerotask.node.broker_node_status\""])
        var got: String?
        // The subscription reaches the broker after a moment (slow joiner): ask until heard.
        #expect(try eventually(10) {
            _ = try peer.result("nodes", ["refresh": true])
            got = try sub.receive(seconds: 0.1)
            return got != nil
        })
        #expect(got == "{\"method\":\"zerotask.node.broker_node_status\",\"params\":{},\"jsonrpc\":\"2.0\"}")
    }
}
