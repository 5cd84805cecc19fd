import Testing
import ZeroTaskProtocol

/// The node's requests on the wire: each case's method and its params, byte for byte as
/// docs/PROTOCOL.md gives them (and as the node sent them before they were typed).
@Suite struct NodeRequestTests {
    static let advertisement = NodeAdvertisement(nodeID: "n1", methods: ["m.a", ["name": "m.b", "doc": "adds"]], workers: 2, capacity: 128)

    /// `method` and compact JSON params.
    static func wire(_ r: NodeRequest) -> (String, String) { (r.method.wireName, r.params.json.jsonString) }

    @Test func registrationCarriesTheAdvertisementByNameAndItsOptionalListsOnlyWhenTheyHoldSomething() {
        #expect(Self.wire(.connect(Self.advertisement)) == ("zerotask.broker.node_connect",
            #"{"node_id":"n1","methods":["m.a",{"name":"m.b","doc":"adds"}],"workers":2,"capacity":128}"#))
        var full = Self.advertisement
        full.unavailable = [["name": "q.x", "reason": "crashed", "plugin": "q"]]
        full.tags = ["gpu", "eu"]
        #expect(Self.wire(.advertise(full)) == ("zerotask.broker.node_advertise",
            #"{"node_id":"n1","methods":["m.a",{"name":"m.b","doc":"adds"}],"workers":2,"capacity":128,"#
                + #""unavailable":[{"name":"q.x","reason":"crashed","plugin":"q"}],"tags":["gpu","eu"]}"#))
    }

    @Test func heartbeatAndDisconnectNameTheNodeByPosition() {
        #expect(Self.wire(.heartbeat(nodeID: "n1")) == ("zerotask.broker.node_heartbeat", #"["n1"]"#))
        #expect(Self.wire(.disconnect(nodeID: "n1")) == ("zerotask.broker.node_disconnect", #"["n1"]"#))
    }

    @Test func aPullCarriesItsOutcomesInDoneOnlyWhenThereAreSome() {
        #expect(Self.wire(.pull(nodeID: "n1", max: 3, wait: 10, done: [])) == ("zerotask.broker.node_task_pull",
            #"{"node_id":"n1","max":3,"wait":10.0}"#))
        let done = [
            NodeRequest.Outcome(taskID: "t1", outcome: .success(["sum": 3])),
            NodeRequest.Outcome(taskID: "t2", outcome: .failure(RPCError(code: -32060, message: "timed out", data: ["timeout": 0.5]))),
        ]
        #expect(Self.wire(.pull(nodeID: "n1", max: 1, wait: 0.5, done: done)).1
            == #"{"node_id":"n1","max":1,"wait":0.5,"done":[{"id":"t1","result":{"sum":3}},"#
                + #"{"id":"t2","error":{"code":-32060,"message":"timed out","data":{"timeout":0.5}}}]}"#)
        #expect(Self.wire(.tasksDone(nodeID: "n1", done)) == ("zerotask.broker.node_tasks_done",
            #"["n1",[{"id":"t1","result":{"sum":3}},{"id":"t2","error":{"code":-32060,"message":"timed out","data":{"timeout":0.5}}}]]"#))
    }

    @Test func releaseAndCheckListTheTasks() {
        #expect(Self.wire(.release(nodeID: "n1", taskIDs: ["t3", "t4"])) == ("zerotask.broker.node_task_release", #"["n1",["t3","t4"]]"#))
        #expect(Self.wire(.checkTasks(nodeID: "n1", taskIDs: ["t1"], complete: true)) == ("zerotask.broker.node_check_tasks",
            #"{"node_id":"n1","task_ids":["t1"],"complete":true}"#))
        #expect(Self.wire(.checkTasks(nodeID: "n1", taskIDs: [], complete: false)).1 == #"{"node_id":"n1","task_ids":[],"complete":false}"#)
    }

    @Test func taskStatusIsTheSeedSpecsNotificationWithProgressAndMessageWhenGiven() {
        #expect(Self.wire(.taskStatus(nodeID: "n1", taskID: "t1", status: .running)) == ("zerotask.broker.task_status",
            #"{"node_id":"n1","task_id":"t1","status":5000}"#))
        #expect(Self.wire(.taskStatus(nodeID: "n1", taskID: "t1", status: .running, progress: 0.25, message: "a quarter")).1
            == #"{"node_id":"n1","task_id":"t1","status":5000,"progress":0.25,"message":"a quarter"}"#)
        #expect(Self.wire(.taskStatus(nodeID: "n1", taskID: "t1", status: .running, progress: 0.5)).1
            == #"{"node_id":"n1","task_id":"t1","status":5000,"progress":0.5}"#)
    }

    @Test func nodeStatusIsTheCountersThenTheNodeAndItsProcess() {
        #expect(Self.wire(.nodeStatus(nodeID: "n1", processID: 42, status: ["workers": 2, "busy": 1])) == ("zerotask.broker.node_status",
            #"{"workers":2,"busy":1,"node_id":"n1","pid":42}"#))
    }
}
