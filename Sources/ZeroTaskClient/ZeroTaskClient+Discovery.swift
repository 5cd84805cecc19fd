import ZeroTaskProtocol

/// What the broker can tell about itself: methods, nodes, counters.
extension ZeroTaskClient {
    /// Every method a node advertises (and every method with tasks queued), with its
    /// signature, serving nodes, queued and running counts.
    public func methods() async throws -> [MethodInfo] {
        let answer = try await rpc(.methods, .none)
        guard let list = answer.arrayValue else { throw ZeroTaskClientError.invalidResponse("methods answered \(answer)") }
        let methods = list.compactMap(MethodInfo.init(json:))
        rememberServed(methods)
        return methods
    }

    /// Every connected node, with its methods, workers and assigned tasks.
    public func nodes() async throws -> [NodeInfo] {
        let answer = try await rpc(.nodes, .none)
        guard let list = answer.arrayValue else { throw ZeroTaskClientError.invalidResponse("nodes answered \(answer)") }
        return list.compactMap(NodeInfo.init(json:))
    }

    /// The broker's counters (`tasks`, `queued`, `running`, `nodes`, `submitted_total`, …).
    public func stats() async throws -> JSONObject {
        let answer = try await rpc(.stats, .none)
        guard let o = answer.objectValue else { throw ZeroTaskClientError.invalidResponse("stats answered \(answer)") }
        return o
    }

    /// Throws `.methodUnknown` unless some node advertises `method` or a seed node (which
    /// serves any) is connected (`call` checks this; use it before submitting work that should
    /// not wait for a node). A seed-only broker cannot tell: then nothing is thrown.
    public func requireServed(_ method: String) async throws {
        if servedRecently(method) { return }
        let methods: [MethodInfo]
        do {
            methods = try await self.methods()
        } catch ZeroTaskClientError.unsupported {
            return
        }
        // A method listed as unavailable (its plugin is quarantined) is left to the broker, whose
        // refusal says which plugin and why.
        guard methods.contains(where: { ($0.name == method && (!$0.nodes.isEmpty || $0.json["unavailable"] != nil)) || $0.seedNodeAvailable }) else {
            throw ZeroTaskClientError.methodUnknown(
                method: method, known: methods.filter { !$0.servesAny && !$0.nodes.isEmpty }.map(\.name).sorted())
        }
    }
}
