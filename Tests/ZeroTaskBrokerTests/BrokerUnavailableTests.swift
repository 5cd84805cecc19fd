import Foundation
import Testing
import ZeroMQ
import ZeroTaskTestSupport
import ZeroTaskBroker
import ZeroTaskProtocol

/// Methods a node advertises as `unavailable` (their plugin is quarantined there): submissions
/// are refused with the reason while no node serves them. Real sockets on loopback.
@Suite struct BrokerUnavailableTests {
    static let quarantined: JSONValue = [
        ["name": "math.add", "plugin": "math", "file": "Plugins/math.so", "reason": "Plugins/math.so: crashed while loading (signal SIGBUS)"],
    ]

    @Test func aMethodOnlyQuarantinedIsRefusedWithThePluginAndCause() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let client = try broker.peer()
        _ = try node.result("node_connect", ["node_id": "n1", "methods": ["text.upper"], "workers": 1, "unavailable": Self.quarantined])
        _ = try client.result("client_connect", ["c"])
        let calls: [(String, JSONValue)] = [("client_new_task", ["c", "math.add", [1, 2]]),
                                            ("client_call", ["c", "math.add", [1, 2]]),
                                            ("client_new_tasks", ["c", [["math.add", [1, 2]]]])]
        for (method, params) in calls {
            let e: RPCError?
            if method == "client_new_tasks" {
                e = try client.result(method, params).arrayValue?.first.flatMap(RPCError.init(json:))
            } else {
                e = try client.error(method, params)
            }
            #expect(e?.code == ErrorCode.methodNotFound.rawValue, "\(method): \(String(describing: e))")
            #expect(e?.message == "method math.add is unavailable: plugin \"math\" is not loaded on node n1 (quarantined: Plugins/math.so: crashed while loading (signal SIGBUS))", "\(method)")
            #expect(e?.data?["file"] == "Plugins/math.so")
        }
        // Nothing was queued; `methods` says why no node serves it.
        let listed = try client.result("methods").arrayValue?.first { $0["name"] == "math.add" }
        #expect(listed?["nodes"] == [] && listed?["queued"] == 0, "\(String(describing: listed))")
        #expect(listed?["unavailable"]?.arrayValue?.first?["node_id"] == "n1")
        // Other methods are untouched.
        #expect(try client.result("client_new_task", ["c", "text.upper", ["x"]]).stringValue != nil)
    }

    @Test func aFixedPluginOrAnotherNodeServingTheMethodLiftsTheRefusal() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let other = try broker.peer()
        let client = try broker.peer()
        _ = try node.result("node_connect", ["node_id": "n1", "methods": [], "unavailable": Self.quarantined])
        _ = try client.result("client_connect", ["c"])
        #expect(try client.error("client_new_task", ["c", "math.add", [1, 2]]) != nil)
        // Another node serves it: accepted.
        _ = try other.result("node_connect", ["node_id": "n2", "methods": ["math.add"]])
        #expect(try client.result("client_new_task", ["c", "math.add", [1, 2]]).stringValue != nil)
        _ = try other.result("node_disconnect", ["n2"])
        #expect(try client.error("client_new_task", ["c", "math.add", [1, 2]]) != nil)
        // The plugin was fixed: the next advertisement has no `unavailable`, and the method queues again.
        _ = try node.result("node_advertise", ["node_id": "n1", "methods": ["math.add"]])
        #expect(try client.result("client_new_task", ["c", "math.add", [1, 2]]).stringValue != nil)
        _ = try node.result("node_advertise", ["node_id": "n1", "methods": []])
        // Known to nobody now: queued, waiting for a node, as before.
        #expect(try client.result("client_new_task", ["c", "math.add", [1, 2]]).stringValue != nil)
        // A node that goes away takes its quarantine reports with it.
        _ = try node.result("node_advertise", ["node_id": "n1", "methods": [], "unavailable": Self.quarantined])
        #expect(try client.error("client_new_task", ["c", "math.add", [1, 2]]) != nil)
        _ = try node.result("node_disconnect", ["n1"])
        #expect(try client.result("client_new_task", ["c", "math.add", [1, 2]]).stringValue != nil)
    }

    @Test func aMalformedUnavailableListIsRefusedNamingTheEntry() throws {
        let broker = try TestBroker()
        let node = try broker.peer()
        let e = try node.error("node_connect", ["node_id": "n1", "methods": [], "unavailable": [["name": "m"]]])
        #expect(e?.code == ErrorCode.invalidParams.rawValue)
        #expect(e?.message.contains("unavailable[0]") == true, "\(String(describing: e))")
    }
}
