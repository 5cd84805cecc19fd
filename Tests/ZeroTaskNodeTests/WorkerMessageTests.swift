import Testing
import ZeroTaskPlugins
import ZeroTaskProtocol

@testable import ZeroTaskNode

/// The worker protocol's one codec, which node and worker both use: every message reads back
/// as itself, and a frame that is no message is refused with what is wrong with it.
@Suite struct WorkerMessageTests {
    @Test(arguments: [
        WorkerMessage.task(id: "t1", method: "nt.add", params: [1, 2]),
        .cancel(id: "t1"),
        .exit,
        .ready(pid: 42, methods: [["name": "nt.add"]], problems: ["nt.json: bad abi"]),
        .done(id: "t1", outcome: .success(3), residentBytes: 1 << 20),
        .done(id: "t1", outcome: .failure(.taskCancelled("t1")), residentBytes: nil),
        .progress(id: "t1", fraction: 0.25, message: "a quarter"),
        .progress(id: "t1", fraction: 1, message: nil),
        .log(taskID: "t1", level: .warning, message: "careful"),
        .log(taskID: nil, level: .info, message: "between tasks"),
        .probe(.passed(name: "nodetest", methods: ["nt.add"])),
        .probe(.failed(PluginProblem(file: "a.json", method: "m", field: "abi", cause: "unknown abi"))),
    ])
    func everyMessageReadsBackAsItself(_ message: WorkerMessage) throws {
        let wire = try JSONValue.parse(message.json.jsonBytes)
        #expect(try WorkerMessage(json: wire) == message)
    }

    @Test func theWireFormIsTheDocumentedOne() {
        #expect(WorkerMessage.task(id: "t1", method: "nt.add", params: [1]).json.jsonString
            == #"{"type":"task","id":"t1","method":"nt.add","params":[1]}"#)
        #expect(WorkerMessage.done(id: "t1", outcome: .success(3), residentBytes: 7).json.jsonString
            == #"{"type":"done","id":"t1","result":3,"rss":7}"#)
    }

    @Test func framesThatAreNoMessageAreRefusedNamingWhy() {
        #expect(throws: WorkerMessage.DecodingError(description: "a frame of unknown type \"bogus\"")) {
            try WorkerMessage(json: ["type": "bogus"])
        }
        #expect(throws: WorkerMessage.DecodingError(description: "a frame without a \"type\"")) {
            try WorkerMessage(json: ["id": "t1"])
        }
        #expect(throws: WorkerMessage.DecodingError(description: "a \"done\" frame without a string \"id\"")) {
            try WorkerMessage(json: ["type": "done", "result": 1])
        }
        #expect(throws: WorkerMessage.DecodingError(description: "a \"progress\" frame without a number \"progress\"")) {
            try WorkerMessage(json: ["type": "progress", "id": "t1"])
        }
    }
}
