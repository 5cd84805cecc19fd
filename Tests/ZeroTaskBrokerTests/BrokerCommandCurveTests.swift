import Foundation
import Testing
import ZeroMQ
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `zerotask broker --secret-key KEY --keys-dir DIR`: a real broker process with CURVE, keys
/// made by `zerotask keys generate`.
@Suite struct BrokerCommandCurveTests {
    @Test func aBrokerWithKeysServesAllowedKeysOnlyAndNamesABadKeyFile() throws {
        let dir = NSTemporaryDirectory() + "zt-broker-curve-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, folder) in [("broker", dir), ("ops", dir + "/keys/admins")] {
            let gen = try ChildProcess(Binaries.zerotask, ["keys", "generate", name, "--dir", folder])
            #expect(gen.waitForExit(seconds: 30) == 0, "\(gen.output)")
        }
        let request = try unusedEndpoint(), publish = try unusedEndpoint()
        let broker = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--request", request, "--publish", publish,
            "--secret-key", dir + "/broker.key", "--keys-dir", dir + "/keys"])
        defer { broker.stop() }
        #expect(eventually(30) { broker.output.contains("CURVE on") }, "\(broker.output)")
        #expect(broker.output.contains("1 admins"))

        let context = ZMQContext()
        let brokerKey = try CurveKeyFile.readPublic(dir + "/broker.pub")
        let admin = try TestPeer(context: context, .req) { s in
            try s.makeCurveClient(serverKey: brokerKey, keys: try CurveKeyFile.readSecret(dir + "/keys/admins/ops.key"))
            try s.connect(request)
        }
        #expect(try admin.result("stats")["requests_total"] == 1)
        // A peer without keys is never heard: the admin's next look still counts only its own.
        let plain = try TestPeer(endpoint: request, context: context, .dealer)
        try plain.sendRaw(#"{"jsonrpc":"2.0","method":"zerotask.broker.stats","id":1}"#)
        #expect(try plain.expectSilence(seconds: 1))
        #expect(try admin.result("stats")["requests_total"] == 2)

        // A broken key file stops the broker at start with its name.
        try "junk\n".write(toFile: dir + "/bad.key", atomically: true, encoding: .utf8)
        let bad = try ChildProcess(Binaries.zerotask, ["broker", "--store", "memory", "--request", try unusedEndpoint(),
            "--publish", try unusedEndpoint(), "--secret-key", dir + "/bad.key", "--keys-dir", dir + "/keys"])
        defer { bad.stop() }
        #expect(bad.waitForExit(seconds: 30) != 0)
        #expect(bad.output.contains("bad.key"), "\(bad.output)")
    }
}
