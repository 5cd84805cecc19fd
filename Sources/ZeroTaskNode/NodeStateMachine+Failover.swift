import Logging
import ZeroTaskProtocol

/// Failing over between the brokers of `NodeConfig.brokers`: a request to the broker in use
/// that goes unanswered past its deadline (a heartbeat, a registration, a report, a long poll
/// past its wait) moves the node to the next broker of the list, round robin. There it
/// registers again (`node_connect` carries the advertisement) and carries on: tasks it holds
/// keep running, and their outcomes are reported to the new broker, which takes them when it
/// shares the old one's store and refuses them (logged) when it does not know them.
extension NodeStateMachine {
    /// The request endpoint of the broker in use.
    var currentBroker: String { config.brokers[brokerIndex] }

    /// Moves to the next broker when the list holds another; the session starts again there.
    func failOver(now: MonotonicInstant) {
        guard config.brokers.count > 1, !brokerIsBuiltIn else { return }
        let from = currentBroker
        brokerIndex = (brokerIndex + 1) % config.brokers.count
        // Nothing the old broker owes will come (its socket closes): outcomes it carried go
        // back to be sent again, and a long poll's tasks are not waited for.
        for p in pending.values { takeBack(p.kind) }
        pending = [:]
        abandonedPulls = []
        pullInFlight = false
        registered = false
        registering = false
        nextRegisterAt = now
        advertisedGeneration = methodsGeneration
        brokerSilentSince = nil
        orphans.formUnion(heldTaskIDs())
        logger.warning("broker at \(from) is not answering: failing over to \(currentBroker)\(orphans.isEmpty ? "" : " (\(orphans.count) tasks held finish and report there)")")
        emit(.useBroker(index: brokerIndex))
    }

    /// The connection to the broker in use dropped (its process ended, or the network cut it):
    /// with another broker in the list the node fails over now, not at the next request's
    /// deadline. With one broker nothing changes: libzmq connects again by itself.
    func brokerDisconnected(now: MonotonicInstant) -> [NodeAction] {
        if config.brokers.count > 1, !phase.isStopping {
            logger.warning("lost the connection to the broker at \(currentBroker)")
            failOver(now: now)
        }
        return takeActions()
    }

    /// The tasks `node_check_tasks` lists: those the broker in use assigned.
    func confirmableTaskIDs() -> [String] {
        let held = heldTaskIDs()
        guard !orphans.isEmpty else { return held }
        // Orphans the node no longer holds in any form (released, reported) are done with.
        orphans.formIntersection(held)
        return held.filter { !orphans.contains($0) }
    }

    /// The broker answered a `node_tasks_done`: one `true` or error per outcome. A refused
    /// outcome is logged (after a failover: a task the new broker does not know), not resent.
    func reported(_ done: [NodeRequest.Outcome], answers: JSONValue) {
        let list = answers.arrayValue ?? []
        for (i, entry) in done.enumerated() {
            let id = entry.taskID
            if i < list.count, let e = RPCError(json: list[i]) {
                logger.warning("broker at \(currentBroker) refused the outcome of task \(id): \(e.message)")
            }
            if !orphans.isEmpty { orphans.remove(id) }
        }
    }
}
