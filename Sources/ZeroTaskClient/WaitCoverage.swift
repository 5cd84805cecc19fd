/// Which waited-for task ids a long poll covers: the rules by which `ResultWaiters` coalesces
/// many waits into few `client_wait_results` requests. No I/O, no clock.
///
/// A task id with waiters is either *uncovered* or *covered* by exactly one poll in flight.
/// The first waiter that finds nobody gathering becomes the gatherer and starts a round; the
/// round takes every uncovered id at once. When a poll returns, its ids whose waiters are still
/// waiting become uncovered again, and the same round goes on if nobody else is gathering.
struct WaitCoverage: Sendable {
    private(set) var uncovered: Set<String> = []
    private(set) var covered: Set<String> = []
    /// A round was started and has not yet taken the uncovered ids.
    private(set) var gathering = false

    /// A waiter for `id` arrived. Returns true when the caller must start a round.
    mutating func waiterAdded(_ id: String) -> Bool {
        if !covered.contains(id) { uncovered.insert(id) }
        guard !gathering else { return false }
        gathering = true
        return true
    }

    /// The last waiter for `id` left (timed out or cancelled) before its task completed.
    mutating func waitersGone(_ id: String) { uncovered.remove(id) }

    /// A round takes the uncovered ids for one poll, at most `limit` of them; empty means the
    /// round is over. `more` says that ids were left: the caller starts another round for them
    /// (so one completion returns a poll of at most `limit` ids, and the re-poll stays small).
    mutating func beginPoll(limit: Int = .max) -> (ids: [String], more: Bool) {
        let ids = Array(uncovered.sorted().prefix(limit))
        uncovered.subtract(ids)
        covered.formUnion(ids)
        gathering = !uncovered.isEmpty
        return (ids, gathering)
    }

    /// A poll for `ids` returned. Returns true when the same round must poll again (for ids
    /// still waited for, and any that arrived meanwhile) because nobody else is gathering.
    mutating func pollEnded(_ ids: [String], stillWaited: (String) -> Bool) -> Bool {
        for id in ids {
            covered.remove(id)
            if stillWaited(id) { uncovered.insert(id) }
        }
        guard !uncovered.isEmpty, !gathering else { return false }
        gathering = true
        return true
    }
}
