import ZeroTaskProtocol

/// Handing tasks back: a node that took more than it could start soon (it prefetches for fast
/// methods) returns the ones that would wait, so another node can take them at once.
extension BrokerState {
    /// Queues again the tasks among `ids` that are assigned to `nodeID` and not complete, without
    /// counting the attempt (they never started). Returns how many were handed back.
    mutating func release(_ ids: [String], nodeID: String, now: MonotonicInstant) -> Int {
        var released = 0
        for id in ids {
            guard var task = tasks[id], task.nodeID == nodeID, !task.status.isComplete else { continue }
            leftNode(task)
            task.nodeID = nil
            task.status = .queued
            task.attempts = max(0, task.attempts - 1)
            task.progress = nil
            tasks[id] = task
            taskChanged(id)
            enqueue(task, now: now)
            released += 1
        }
        return released
    }

    /// A node named every task it holds (`node_check_tasks` with `complete`): an assigned task
    /// missing from two lists in a row never reached it (a lost reply) and is queued again.
    mutating func reclaimUnlisted(_ listed: Set<String>, nodeID: String, now: MonotonicInstant) {
        guard let lost = nodes.update(nodeID, { $0.takeUnlisted(listed) }) else { return }
        for id in lost.sorted() {
            requeueOrFail(id, now: now, cause: "node \(nodeID) does not hold it")
        }
    }
}
