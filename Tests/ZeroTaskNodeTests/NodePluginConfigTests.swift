import Foundation
import Testing
import ZeroTaskProtocol
import ZeroTaskTestSupport

/// `node.plugin_config` from the configuration file and from `$ZEROTASK_NODE_PLUGIN_CONFIG`,
/// through a real `zerotask node` and a plugin that answers with the config its init received.
@Suite struct NodePluginConfigTests {
    static let pluginFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ZeroTaskPluginsTests/Fixtures").standardized.path

    /// The configuration `configured`'s init got on a node started with this file and environment.
    static func received(file: String, environment: [String: String]) throws -> String {
        let h = try NodeHarness()
        try FixturePlugins.compile("configured", from: pluginFixtures, into: h.plugins)
        let path = h.plugins + "/../zt-node-config-\(UUID().uuidString).yaml"
        try file.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try h.startNode(id: "configured-\(UUID().uuidString.prefix(8))", extra: ["--config", path],
            environment: environment, waitFor: "configured.config")
        guard case .success(.string(let config)) = try h.outcome(try h.submit("configured.config")) else { return "" }
        return config
    }

    @Test func theEnvironmentReplacesThePluginsEntryOfTheFile() throws {
        let file = "node:\n  plugin_config:\n    configured: {\"greeting\": \"file\", \"level\": 2}\n"
        let fromFile = try Self.received(file: file, environment: [:])
        #expect(fromFile.contains("\"greeting\":\"file\"") && fromFile.contains("\"level\":2"), "\(fromFile)")
        let fromEnv = try Self.received(file: file, environment: ["ZEROTASK_NODE_PLUGIN_CONFIG": "{\"configured\": {\"greeting\": \"env\"}}"])
        #expect(fromEnv.contains("\"greeting\":\"env\"") && !fromEnv.contains("\"level\":2"), "\(fromEnv)")
    }
}
