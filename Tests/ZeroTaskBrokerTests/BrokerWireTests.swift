import Foundation
import Testing
import ZeroMQ
import ZeroTaskTestSupport
import ZeroTaskBroker
import ZeroTaskProtocol

/// REQ and DEALER peers, notifications, batches and every kind of bad input.
@Suite struct BrokerWireTests {
    @Test func reqPeerGetsNullForANotification() throws {
        let broker = try TestBroker()
        let peer = try broker.peer(.req)
        try peer.sendRaw(#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["x"]}"#)
        #expect(try peer.receiveJSON() == .null)
        // The notification took effect.
        #expect(try peer.error("client_task_status", ["x", "x-1"])?.code == -32020)
    }

    @Test func falsyIDsAreStillRequests() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        for id: JSONValue in [0, "", .null, .double(0)] {
            let r = try peer.call("stats", [], id: id)
            #expect(r.id == id)
            #expect((try? r.outcome.get()) != nil)
        }
    }

    @Test func dealerPeerWithManyInFlightGetsRepliesMatchedByID() throws {
        let broker = try TestBroker()
        let dealer = try broker.peer(.dealer)
        try dealer.sendRaw(Request(method: "zerotask.broker.client_connect", params: .positional(["d"]), id: "c").json.jsonBytes)
        #expect(Response(json: try dealer.receiveJSON())?.id == "c")
        let n = 200
        for i in 0..<n {
            let req = Request(method: "zerotask.broker.client_new_task", params: .positional(["d", "m", [.int(Int64(i))], .string("t\(i)")]), id: .int(Int64(i)))
            try dealer.sendRaw(req.json.jsonBytes)
        }
        // A notification in the middle gets no reply on a DEALER without delimiter.
        try dealer.sendRaw(#"{"jsonrpc":"2.0","method":"zerotask.broker.stats"}"#)
        var ids = Set<Int64>()
        for _ in 0..<n {
            let r = Response(json: try dealer.receiveJSON())!
            guard case .int(let i) = r.id else { Issue.record("id \(r.id)"); continue }
            #expect(r.outcome == .success(.string("d-t\(i)")))
            ids.insert(i)
        }
        #expect(ids.count == n)
        #expect(try dealer.expectSilence())
    }

    @Test func batchGetsAnArrayOfResponses() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        try peer.sendRaw("""
            [{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["b"],"id":1},
             {"jsonrpc":"2.0","method":"zerotask.broker.client_new_task","params":["b","m",[]]},
             {"jsonrpc":"2.0","method":"zerotask.broker.nope","id":2},
             {"foo":1},
             {"jsonrpc":"2.0","method":"zerotask.broker.stats","id":3}]
            """)
        let reply = try peer.receiveJSON()
        let items = reply.arrayValue ?? []
        #expect(items.count == 4)
        #expect(items[0]["result"] == "b" && items[0]["id"] == 1)
        #expect(items[1]["error"]?["code"] == -32601 && items[1]["id"] == 2)
        #expect(items[2]["error"]?["code"] == -32600 && items[2]["id"] == .null)
        #expect(items[3]["result"]?["queued"] == 1)
        // A batch of notifications only: one null for a REQ peer.
        try peer.sendRaw(#"[{"jsonrpc":"2.0","method":"zerotask.broker.stats"}]"#)
        #expect(try peer.receiveJSON() == .null)
        try peer.sendRaw("[]")
        #expect(try peer.receiveJSON()["error"]?["code"] == -32600)
    }

    @Test(arguments: [
        ("{not json", Int64(-32700)),
        ("\"just a string\"", -32600),
        ("42", -32600),
        (#"{"jsonrpc":"1.0","method":"zerotask.broker.stats","id":1}"#, -32600),
        (#"{"jsonrpc":"2.0","method":7,"id":1}"#, -32600),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.stats","params":5,"id":1}"#, -32600),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.stats","id":{"a":1}}"#, -32600),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.nothing","id":1}"#, -32601),
        (#"{"jsonrpc":"2.0","method":"other.method","id":1}"#, -32601),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":[1],"id":1}"#, -32602),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":{"who":"x"},"id":1}"#, -32602),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.client_new_task","params":["a"],"id":1}"#, -32602),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.client_connect","params":["a","b"],"id":1}"#, -32602),
        (#"{"jsonrpc":"2.0","method":"zerotask.broker.node_connect","params":{"node_id":"n","workers":"many"},"id":1}"#, -32602),
        ("{\"jsonrpc\":\"2.0\",\"method\":\"zerotask.broker.stats\",\"id\":\"\u{FF}\"", -32700),
    ])
    func badInputGetsTheRightError(body: String, code: Int64) throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        try peer.sendRaw(body)
        let reply = try peer.receiveJSON()
        #expect(reply["error"]?["code"] == .int(code), "\(body) → \(reply)")
        #expect(reply["error"]?["message"]?.stringValue?.isEmpty == false)
        // The broker still serves.
        #expect(try peer.result("stats")["tasks"] == 0)
    }

    @Test func invalidUTF8IsAParseError() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        try peer.sendRaw(Array(#"{"jsonrpc":"2.0","method":"zerotask.broker.stats","id":""#.utf8) + [0xC3, 0x28] + Array("\"}".utf8))
        #expect(try peer.receiveJSON()["error"]?["code"] == -32700)
    }

    @Test func oversizeBodyIsRefusedAndTheBrokerGoesOn() throws {
        let broker = try TestBroker { $0.maxMessageBytes = 1000 }
        let peer = try broker.peer()
        let big = "{\"jsonrpc\":\"2.0\",\"method\":\"zerotask.broker.stats\",\"params\":[\"" + String(repeating: "x", count: 5000) + "\"],\"id\":1}"
        try peer.sendRaw(big)
        let reply = try peer.receiveJSON()
        #expect(reply["error"]?["code"] == -32600)
        #expect(reply["error"]?["message"]?.stringValue?.contains("max_message_bytes") == true)
        #expect(reply["id"] == 1)  // the caller can match the refusal to its request
        #expect(try peer.result("stats")["tasks"] == 0)
    }

    @Test func tooManyFramesAreDroppedAndOthersAreServed() throws {
        let broker = try TestBroker()
        let dealer = try broker.peer(.dealer)
        try dealer.socket.send(frames: Array(repeating: Array("x".utf8), count: 20))
        let other = try broker.peer()
        #expect(try other.result("stats")["tasks"] == 0)
        #expect(try dealer.expectSilence())
    }

    @Test func deepNestingIsRefusedWithoutCrashing() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        try peer.sendRaw(String(repeating: "[", count: 100_000))
        #expect(try peer.receiveJSON()["error"]?["code"] == -32700)
    }

    /// A peer that sends a thousand requests and vanishes before reading a reply: the broker
    /// took every request (counted, before the peer goes) and still serves the next peer.
    @Test func vanishedPeerDoesNotStallOthers() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        let before = try #require(peer.result("stats")["requests_total"]?.int64Value)
        do {
            let gone = try broker.peer(.dealer)
            for i in 0..<1000 {
                try gone.sendRaw(Request(method: "zerotask.broker.stats", params: .none, id: .int(Int64(i))).json.jsonBytes)
            }
            // Close only once the broker has read them all: linger 0 right after sending could
            // drop them unsent, and the test would prove nothing. Each probe counts one more.
            var probes: Int64 = 0
            #expect(try eventually(30) {
                probes += 1
                return (try peer.result("stats")["requests_total"]?.int64Value ?? 0) >= before + 1000 + probes
            })
            gone.socket.close(lingerMilliseconds: 0)
        }
        let after = try #require(peer.result("stats")["requests_total"]?.int64Value)
        #expect(after >= before + 1001)
        #expect(try peer.result("stats")["requests_total"]?.int64Value == after + 1)
    }
}

extension BrokerWireTests {
    /// A long poll inside a JSON-RPC batch does not wait (docs/PROTOCOL.md): the batch is
    /// answered at once, the poll with its "nothing yet", though it asked for 30 s.
    @Test func aLongPollInsideABatchIsAnsweredAtOnce() throws {
        let broker = try TestBroker()
        let peer = try broker.peer()
        _ = try peer.result("client_connect", ["c"])
        let tid = try peer.result("client_new_task", ["c", "m", []])
        let batch: JSONValue = [
            Request(method: "zerotask.broker.client_wait_results", params: .positional(["c", [tid], 30]), id: 1).json,
            Request(method: "zerotask.broker.stats", params: .none, id: 2).json,
        ]
        try peer.sendRaw(batch.jsonBytes)
        // Well inside the 30 s the poll asked for: a parked poll would hold the whole batch.
        let reply = try peer.receiveJSON(seconds: 10).arrayValue ?? []
        #expect(reply.count == 2)
        #expect(reply.first?["id"] == 1 && reply.first?["result"] == [])
        #expect(reply.last?["id"] == 2 && reply.last?["result"]?["tasks"] == 1)
        // Alone, the same poll is held.
        _ = try peer.sendRaw(Request(method: "zerotask.broker.client_wait_results", params: .positional(["c", [tid], 30]), id: 3).json.jsonBytes)
        #expect(try peer.expectSilence(seconds: 1))
    }
}

extension BrokerWireTests {
    /// The 8-frame limit at its boundary: the broker's ROUTER adds the peer's routing id, so a
    /// DEALER's 7 frames (6 envelope frames and the body) make 8 and are served, with the
    /// envelope echoed; 8 make 9 and are dropped; the peer is served afterwards.
    @Test func eightFramesAreServedAndNineDropped() throws {
        let broker = try TestBroker()
        let dealer = try broker.peer(.dealer)
        let body = Request(method: "zerotask.broker.stats", params: .none, id: 7).json.jsonBytes
        let envelope = (1...6).map { [UInt8(ascii: "a") + UInt8($0)] }
        try dealer.socket.send(frames: envelope + [body])
        var poller = ZMQPoller()
        poller.add(dealer.socket)
        #expect(try poller.poll(timeoutMilliseconds: 10_000)[0].contains(.readable))
        let reply = try #require(try dealer.socket.receiveFrames(dontWait: true))
        #expect(Array(reply.dropLast()) == envelope)
        #expect(try JSONValue.parse(reply.last ?? [])["id"] == 7)

        try dealer.socket.send(frames: envelope + [[UInt8(ascii: "z")], body])
        #expect(try dealer.expectSilence(seconds: 1))
        try dealer.socket.send(frames: envelope + [body])
        #expect(try poller.poll(timeoutMilliseconds: 10_000)[0].contains(.readable))
    }

    /// ROUTER handover: a second connection with a routing id already in use (a node's is
    /// `node:ID`) takes it over, and the replies go to the newcomer.
    @Test func aPeerReconnectingWithTheSameRoutingIDTakesItOver() throws {
        let broker = try TestBroker()
        // The routing id is set before connecting: the sockets are built by hand.
        let first = try ZMQSocket(broker.context, .dealer)
        try first.setLinger(milliseconds: 0)
        try first.setRoutingID(Array("node:twin".utf8))
        try first.connect(broker.request)
        try first.send([], more: true)
        try first.send(Request(method: "zerotask.broker.stats", params: .none, id: 1).json.jsonBytes)
        var poller = ZMQPoller()
        poller.add(first)
        #expect(try poller.poll(timeoutMilliseconds: 10_000)[0].contains(.readable))
        _ = try first.receiveFrames(dontWait: true)

        let second = try ZMQSocket(broker.context, .dealer)
        try second.setLinger(milliseconds: 0)
        try second.setRoutingID(Array("node:twin".utf8))
        try second.connect(broker.request)
        var secondPoller = ZMQPoller()
        secondPoller.add(second)
        // Without handover the broker would drop the newcomer's messages (the id is taken).
        #expect(try eventually(10) {
            try second.send([], more: true)
            try second.send(Request(method: "zerotask.broker.stats", params: .none, id: 2).json.jsonBytes)
            return try secondPoller.poll(timeoutMilliseconds: 200)[0].contains(.readable)
        })
        let reply = try #require(try second.receiveFrames(dontWait: true))
        #expect(try JSONValue.parse(reply.last ?? [])["id"] == 2)
        first.close(lingerMilliseconds: 0)
        second.close(lingerMilliseconds: 0)
    }
}
