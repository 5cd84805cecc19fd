import Foundation
import Testing
import ZeroMQ
import ZeroTaskBroker
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// A JSON-RPC batch may not make the broker answer more than `max_message_bytes`, nor hold more
/// than `max_batch_entries` requests. Real broker thread and sockets on loopback.
@Suite struct BatchReplyTests {
    static func batch(_ calls: [(String, JSONValue)]) -> [UInt8] {
        JSONValue.array(calls.enumerated().map { i, c in
            Request(method: "zerotask.broker." + c.0, params: Params(json: c.1)!, id: .int(Int64(i))).json
        }).jsonBytes
    }

    @Test func aBatchWithTooManyEntriesIsRefusedWhole() throws {
        let broker = try TestBroker { $0.maxBatchEntries = 3 }
        let peer = try broker.peer()
        try peer.sendRaw(Self.batch([("client_connect", ["b1"]), ("stats", []), ("stats", []), ("stats", [])]))
        let reply = Response(json: try peer.receiveJSON())
        guard case .failure(let e)? = reply?.outcome else {
            Issue.record("a batch of 4 past max_batch_entries 3 was answered \(String(describing: reply))")
            return
        }
        #expect(e.code == -32600 && e.message.contains("max_batch_entries"), "\(e.message)")
        // None of it was handled: the client was not connected.
        #expect(try peer.error("client_task_status", ["b1", "b1-x"])?.code == -32010)
        try peer.sendRaw(Self.batch([("client_connect", ["b1"]), ("stats", [])]))
        #expect(try peer.receiveJSON().arrayValue?.count == 2)
    }

    @Test func aBatchReplyStaysWithinMaxMessageBytes() throws {
        let limit = 16 * 1024
        let broker = try TestBroker { $0.maxMessageBytes = limit }
        let client = try broker.peer(), node = try broker.peer()
        try client.result("client_connect", ["big"])
        try node.result("node_connect", ["node_id": "n1", "methods": ["m"]])
        let result = JSONValue.string(String(repeating: "r", count: 4000))
        for i in 0..<10 { try client.result("client_new_task", ["big", "m", [], .string("t\(i)")]) }
        for t in try node.result("node_task_pull", ["n1", 10]).arrayValue ?? [] {
            try node.result("node_task_finished", ["node_id": "n1", "task_id": t["id"]!, "result": result])
        }
        // Ten results of 4 KB each asked for in one batch of 16 KiB at most.
        try client.sendRaw(Self.batch((0..<10).map { ("client_task_result", ["big", .string("big-t\($0)")]) }))
        let body = try client.receiveRaw()
        #expect(body.count <= limit, "a batch reply of \(body.count) bytes passed max_message_bytes \(limit)")
        let entries = try JSONValue.parse(body).arrayValue ?? []
        #expect(entries.count == 10, "every entry gets an answer")
        let answered = entries.filter { $0["result"] == result }.count
        let refused = entries.compactMap { $0["error"]?["message"]?.stringValue }.filter { $0.contains("max_message_bytes") }
        #expect(answered >= 2 && answered + refused.count == 10, "\(answered) answered, \(refused.count) refused")
        // Answers come in order: every refusal follows every answer.
        #expect(entries.prefix(answered).allSatisfy { $0["result"] == result })
    }
}
