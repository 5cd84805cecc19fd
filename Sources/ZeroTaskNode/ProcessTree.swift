#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A worker's descendants found through `/proc` (each process's parent), for a node without a
/// memory cgroup to sweep them with. While the worker lives every process its plugins started
/// is beneath it, `setsid` or double fork or not (the worker is their subreaper); once it is
/// dead they belong to init and nothing ties them to it any more. So they are swept before the
/// worker is killed: stopped (a stopped process cannot fork), looked for again until no new one
/// turns up, then killed.
enum ProcessTree {
    /// Stops `root` and every descendant, then kills them all. Returns the descendants killed
    /// (not `root`, which the caller kills and reaps).
    @discardableResult
    static func stopAndKillDescendants(of root: pid_t) -> [pid_t] {
        Array(stopAndKill([root], sparing: root))
    }

    /// Stops `roots` and every descendant, then kills them all but `spared`. Returns those killed.
    private static func stopAndKill(_ roots: Set<pid_t>, sparing spared: pid_t? = nil) -> Set<pid_t> {
        for pid in roots { kill(pid, SIGSTOP) }
        var stopped = roots
        // Bounded: each pass stops what the last one found; a fork racing a stop shows on the next.
        for _ in 0..<100 {
            let found = descendants(of: stopped, parents: parents()).subtracting(stopped)
            if found.isEmpty { break }
            for pid in found { kill(pid, SIGSTOP) }
            stopped.formUnion(found)
        }
        if let spared { stopped.remove(spared) }
        for pid in stopped { kill(pid, SIGKILL) }
        return stopped
    }

    /// For a process that is a child subreaper: its children not in `known` — orphans of a dead
    /// worker or probe that came back to it — and their descendants, stopped, killed and reaped
    /// (a killed orphan's own children come back to this process in turn, to be reaped too).
    /// Returns those killed; by PID only, and only this process's own descendants.
    @discardableResult
    static func killAndReapOrphans(keeping known: Set<pid_t>) -> [pid_t] {
        let me = getpid()
        let orphans = Set(parents().filter { $0.value == me && !known.contains($0.key) }.map(\.key))
        guard !orphans.isEmpty else { return [] }
        var pending = stopAndKill(orphans)
        let killed = Array(pending)
        let all = Int32(0x4000_0000)  // __WALL
        // Bounded: a killed process is gone (or a zombie of ours) within milliseconds.
        for _ in 0..<2000 where !pending.isEmpty {
            for pid in pending {
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG | all)
                // Reaped, or gone without us (reaped by its own parent before that died).
                if r == pid || (r < 0 && parent(of: pid) == nil) { pending.remove(pid) }
            }
            if !pending.isEmpty { usleep(1000) }
        }
        return killed
    }

    /// Every process's parent, from `/proc/PID/stat`.
    static func parents() -> [pid_t: pid_t] {
        var out: [pid_t: pid_t] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(name), let ppid = parent(of: pid) else { continue }
            out[pid] = ppid
        }
        return out
    }

    /// The parent in `/proc/PID/stat`: the field after the state, after the command's closing
    /// parenthesis (the command itself may hold spaces and parentheses).
    static func parent(of pid: pid_t) -> pid_t? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count >= 2 ? pid_t(fields[1]) : nil
    }

    /// Every process beneath `roots` in `parents`.
    static func descendants(of roots: Set<pid_t>, parents: [pid_t: pid_t]) -> Set<pid_t> {
        var children: [pid_t: [pid_t]] = [:]
        for (pid, ppid) in parents { children[ppid, default: []].append(pid) }
        var out: Set<pid_t> = []
        var queue = Array(roots)
        while let p = queue.popLast() {
            for c in children[p] ?? [] where out.insert(c).inserted { queue.append(c) }
        }
        return out
    }
}
