import Foundation
import Logging
import Synchronization
import ZeroMQ
import ZeroTaskProtocol

/// What a peer may do, by the folder its public key is in.
public enum PeerRole: String, Sendable, CaseIterable {
    /// `clients/`: submits and reads its own tenant's tasks, and discovery.
    case client
    /// `nodes/`: node methods only.
    case node
    /// `admins/`: everything, every tenant's tasks.
    case admin

    /// The folder of the broker's keys directory that holds this role's public keys.
    public var folder: String { rawValue + "s" }

    /// Whether this role may call a broker method.
    public func mayCall(_ method: BrokerMethod) -> Bool {
        switch self {
        case .admin: true
        case .node: method.isNodeMethod
        case .client: method.isClientMethod || method.isDiscovery
        }
    }

    /// What the role may call, in words, for the -32040 message.
    var allowedMethods: String {
        switch self {
        case .admin: "every method"
        case .node: "node methods only"
        case .client: "client methods and discovery (methods, nodes, stats) only"
        }
    }
}

/// A peer the broker knows by its key: its role and its name (the key file's name without
/// `.pub`; for a client, its tenant).
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    public var role: PeerRole
    public var name: String

    public init(role: PeerRole, name: String) {
        self.role = role
        self.name = name
    }

    /// What the ZAP handler hands libzmq, and libzmq hands back on each message as `User-Id`.
    public var userID: String { "\(role.rawValue):\(name)" }

    public init?(userID: String) {
        guard let colon = userID.firstIndex(of: ":"), let role = PeerRole(rawValue: String(userID[..<colon])) else { return nil }
        self.init(role: role, name: String(userID[userID.index(after: colon)...]))
    }

    public var description: String { "\(role.rawValue) '\(name)'" }
}

/// The public keys the broker allows: `clients/`, `nodes/` and `admins/` under one folder, each
/// holding `NAME.pub` files. Files added or removed take effect for the next handshake: the
/// folders are read again when one of them changed, and at least every second.
public final class PeerKeys: Sendable {
    public let directory: String
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var byKey: [String: PeerIdentity] = [:]
        var stamp: [Date?] = []
        var scannedAt = Date.distantPast
        /// Problems already logged, so a broken file is reported once, not on every handshake.
        var reported: Set<String> = []
    }

    /// - Throws: when the folder is missing: a broker with keys and nobody allowed is a mistake.
    public init(directory: String, logger: Logger) throws(CurveKeyFile.Problem) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw CurveKeyFile.Problem(path: directory, reason: "no such keys folder (it holds clients/, nodes/ and admins/ with NAME.pub files)")
        }
        self.directory = directory
        self.logger = logger
        state.withLock { rescan(&$0, now: Date()) }
    }

    /// Who holds `publicKey` (Z85), or nil when no folder allows it.
    public func identity(of publicKey: String) -> PeerIdentity? {
        state.withLock { s in
            let now = Date()
            if now.timeIntervalSince(s.scannedAt) >= 1 || stamps() != s.stamp { rescan(&s, now: now) }
            return s.byKey[publicKey]
        }
    }

    /// The ZAP answer for a handshake: CURVE with an allowed key of one of `roles`, nothing else.
    public func authorize(_ request: ZAPRequest, roles: Set<PeerRole> = Set(PeerRole.allCases)) -> ZAPDecision {
        guard request.mechanism == "CURVE", let key = request.publicKey else {
            return .deny("\(request.mechanism) peers are refused: this broker requires CURVE keys")
        }
        guard let who = identity(of: key) else {
            logger.notice("refused a CURVE key no keys folder allows", metadata: ["address": "\(request.address)", "key": "\(key)"])
            return .deny("key not allowed")
        }
        guard roles.contains(who.role) else {
            logger.notice("refused \(who) on a socket for \(roles.map(\.rawValue).sorted().joined(separator: "/")) keys only", metadata: ["address": "\(request.address)"])
            return .deny("\(who.role.rawValue) keys are not allowed here")
        }
        return .allow(userID: who.userID)
    }

    /// How many keys each role has (for the start-up log line).
    public var counts: [PeerRole: Int] {
        state.withLock { s in
            Dictionary(grouping: s.byKey.values, by: \.role).mapValues(\.count)
        }
    }

    /// Whether a client key's name can be a tenant: an id without ':' (which ends the tenant in
    /// the broker's ids), short enough to leave room for the ids it prefixes.
    static func isValidTenant(_ name: String) -> Bool {
        name.utf8.count <= 64 && !name.contains(":") && Identifier.isValidID(name)
    }

    private func folder(_ role: PeerRole) -> String { (directory as NSString).appendingPathComponent(role.folder) }

    private func stamps() -> [Date?] {
        PeerRole.allCases.map { (try? FileManager.default.attributesOfItem(atPath: folder($0)))?[.modificationDate] as? Date }
    }

    private func rescan(_ s: inout State, now: Date) {
        s.stamp = stamps()
        s.scannedAt = now
        var byKey: [String: PeerIdentity] = [:]
        var ambiguous: Set<String> = []
        var problems: [String] = []
        for role in PeerRole.allCases {
            let dir = folder(role)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            for file in names.sorted() where file.hasSuffix(".pub") && !file.hasPrefix(".") {
                let path = (dir as NSString).appendingPathComponent(file)
                let name = String(file.dropLast(4))
                // A client key's name is its tenant, written before its ids as "TENANT:".
                if role == .client, !Self.isValidTenant(name) {
                    problems.append("\(path): a client key's name is its tenant: letters, digits, '.', '_' and '-', at most 64, starting with a letter or digit")
                    continue
                }
                do {
                    let key = try CurveKeyFile.readPublic(path)
                    let who = PeerIdentity(role: role, name: name)
                    if let other = byKey[key], other != who {
                        ambiguous.insert(key)
                        problems.append("\(path): the same key is also \(other) — refused for both until one file goes")
                    }
                    byKey[key] = who
                } catch {
                    problems.append(error.description)
                }
            }
        }
        // One key, two identities: which one it is cannot be known, so it is neither (fails closed).
        for key in ambiguous { byKey[key] = nil }
        s.byKey = byKey
        for p in problems where !s.reported.contains(p) { logger.warning("skipped key file: \(p)") }
        s.reported = Set(problems)
    }
}
