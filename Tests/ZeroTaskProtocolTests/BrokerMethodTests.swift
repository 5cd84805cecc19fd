import Testing
import ZeroTaskProtocol

/// The broker's method names, written once.
@Suite struct BrokerMethodTests {
    @Test func wireNamesRoundTripAndOthersAreNotBrokerMethods() {
        for m in BrokerMethod.allCases { #expect(BrokerMethod(wireName: m.wireName) == m) }
        #expect(BrokerMethod.clientNewTask.wireName == "zerotask.broker.client_new_task")
        #expect(BrokerMethod(wireName: "client_new_task") == nil)
        #expect(BrokerMethod(wireName: "zerotask.broker.no_such") == nil)
        #expect(BrokerMethod(wireName: "zerotask.node.task_cancel") == nil)
    }

    @Test func kindsFollowTheNames() {
        #expect(BrokerMethod.allCases.filter(\.isSeed).map(\.rawValue).sorted() == [
            "client_connect", "client_disconnect", "client_new_task", "client_task_result", "client_task_status",
            "node_connect", "node_disconnect", "node_heartbeat", "node_status", "node_task_failed", "node_task_finished",
            "node_task_request", "node_task_status", "task_status",
        ])
        #expect(BrokerMethod.taskStatus.isNodeMethod && !BrokerMethod.taskStatus.isClientMethod)
        #expect(BrokerMethod.allCases.filter(\.isDiscovery) == [.methods, .nodes, .stats])
        // Every method is of exactly one kind.
        for m in BrokerMethod.allCases { #expect([m.isNodeMethod, m.isClientMethod, m.isDiscovery, m.isAdminMethod].filter { $0 }.count == 1, "\(m)") }
    }
}
