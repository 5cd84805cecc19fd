#if canImport(Glibc)
import Glibc
#endif
import CSandbox
import Synchronization

/// What the executable running a node sets up for its process, which a library must not choose
/// for its host: being the child subreaper of every worker.
public enum NodeProcess {
    private static let subreaper = Atomic<Bool>(false)

    /// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`), for the node in it: every
    /// process a worker leaves when it dies on its own (a crash, `setsid` or not) comes back to
    /// this process instead of init, and the node kills and reaps it (`ProcessTree`). A process
    /// calling this hands the node its orphans: every child of the process that is no worker or
    /// probe of the node's is killed when a worker or probe ends. Returns false (errno) if the
    /// kernel refused.
    @discardableResult
    public static func becomeSubreaper() -> Bool {
        guard zt_set_child_subreaper() == 0 else { return false }
        subreaper.store(true, ordering: .releasing)
        return true
    }

    /// Whether `becomeSubreaper` made this process the node's subreaper.
    static var isSubreaper: Bool { subreaper.load(ordering: .acquiring) }
}
