import ZeroTaskProtocol

/// A node's long poll for work (`node_task_pull` with `wait`).
struct NodeWaiter: Sendable {
    var route: ReplyRoute
    var nodeID: String
    var max: Int
    var deadline: MonotonicInstant
}

/// The nodes' parked pulls (one per node), found by the methods they serve: a submission looks
/// only at the pulls of nodes serving its method, and the next deadline is a heap's first entry.
/// (A list scanned on every submission, every pull and every loop turn cost each request as
/// much as there were parked nodes.)
///
/// Each method keeps its parked nodes in parking order, oldest first; an entry whose pull has
/// since ended is skipped when met and compacted away once such entries dominate.
struct NodeWaiterSet: Sendable {
    private struct Parked: Sendable {
        var serial: Int
        var waiter: NodeWaiter
    }

    private struct Line: Sendable {
        var entries: [(serial: Int, nodeID: String)] = []
        var head = 0
    }

    private var parked: [String: Parked] = [:]
    private var byMethod: [String: Line] = [:]
    private var deadlines = DeadlineHeap<Int>()
    /// Serial → node id, for the deadline heap's keys (only live waiters).
    private var nodeBySerial: [Int: String] = [:]
    private var nextSerial = 0

    var count: Int { parked.count }

    /// The parked pulls, in no order.
    var all: [NodeWaiter] { parked.values.map(\.waiter) }

    /// Parks `waiter` for `methods`; returns the node's older pull, which it replaces.
    mutating func park(_ waiter: NodeWaiter, methods: some Sequence<String>) -> NodeWaiter? {
        let older = remove(nodeID: waiter.nodeID)
        let serial = nextSerial
        nextSerial += 1
        parked[waiter.nodeID] = Parked(serial: serial, waiter: waiter)
        nodeBySerial[serial] = waiter.nodeID
        for m in methods { byMethod[m, default: Line()].entries.append((serial, waiter.nodeID)) }
        deadlines.push(at: waiter.deadline, serial)
        if deadlines.count > 64 && deadlines.count > 4 * parked.count {
            deadlines.retain { nodeBySerial[$0.key] != nil }
        }
        return older
    }

    /// A node's methods changed while it waits: its pull is filed under the new ones.
    mutating func refile(nodeID: String, methods: some Sequence<String>) {
        guard let p = remove(nodeID: nodeID) else { return }
        _ = park(p, methods: methods)
    }

    /// Removes and returns the node's parked pull.
    @discardableResult
    mutating func remove(nodeID: String) -> NodeWaiter? {
        guard let p = parked.removeValue(forKey: nodeID) else { return nil }
        nodeBySerial[p.serial] = nil
        // Its entries in the method lines go stale; they are skipped or compacted later.
        while let f = deadlines.first, nodeBySerial[f.key] == nil { deadlines.popFirst() }
        return p.waiter
    }

    /// Removes and returns the oldest pull parked for `method` that `accept` takes.
    mutating func takeFirst(for method: String, where accept: (NodeWaiter) -> Bool) -> NodeWaiter? {
        guard var line = byMethod[method] else { return nil }
        byMethod[method] = nil  // keeps the line uniquely referenced while it changes
        defer { if line.head < line.entries.count { byMethod[method] = line } }
        var i = line.head
        var found: NodeWaiter?
        var stale = 0
        while i < line.entries.count {
            let e = line.entries[i]
            guard let p = parked[e.nodeID], p.serial == e.serial else {
                stale += 1
                if i == line.head { line.head += 1 }
                i += 1
                continue
            }
            if accept(p.waiter) {
                found = remove(nodeID: e.nodeID)
                if i == line.head { line.head += 1 }
                break
            }
            i += 1
        }
        // Drop what was consumed or went stale once it is most of the line.
        if line.head > 32 && line.head * 2 > line.entries.count || stale > 32 && stale * 2 > line.entries.count - line.head {
            line.entries = line.entries[line.head...].filter { parked[$0.nodeID]?.serial == $0.serial }
            line.head = 0
        }
        return found
    }

    /// Removes and returns the pulls whose deadline has come.
    mutating func takeExpired(now: MonotonicInstant) -> [NodeWaiter] {
        var expired: [NodeWaiter] = []
        while let f = deadlines.first, f.at <= now {
            deadlines.popFirst()
            if let id = nodeBySerial[f.key], let p = parked[id], p.waiter.deadline <= now, let w = remove(nodeID: id) {
                expired.append(w)
            }
        }
        return expired
    }

    /// The earliest deadline of a parked pull.
    var nextDeadline: MonotonicInstant? { deadlines.first?.at }
}
