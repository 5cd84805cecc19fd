#if canImport(Glibc)
import Glibc
#endif
import Testing

@testable import ZeroTaskNode

/// The worker's record of which tasks are cancelled, without a process: cancels come from the
/// watcher thread, starts from the main thread, in either order.
@Suite struct WorkerTaskHostTests {
    func host() -> WorkerTaskHost {
        // Nothing here writes to the channel (no progress, no log).
        WorkerTaskHost(writer: ChannelWriter(FrameChannel(fd: -1)))
    }

    /// A cancel on the urgent channel can overtake its task on the control channel: the task,
    /// read later, must never start.
    @Test func aCancelThatArrivesBeforeItsTaskStopsItFromStarting() {
        let h = host()
        h.cancel("t1")
        #expect(!h.start("t1"))
        #expect(h.start("t2"))
        h.end()
    }

    @Test func aCancelOfTheRunningTaskSetsItsFlagOnly() {
        let h = host()
        #expect(h.start("a"))
        #expect(!h.isCancelled)
        h.cancel("a")
        #expect(h.isCancelled)
        h.end()
        // The next task starts afresh.
        #expect(h.start("b"))
        #expect(!h.isCancelled)
    }

    /// Cancels for tasks that finished before the cancel came are remembered only a while: the
    /// oldest go once thousands pile up, the recent ones still count.
    @Test func staleCancelsAreForgottenOldestFirst() {
        let h = host()
        for i in 0..<5000 { h.cancel("done-\(i)") }
        #expect(h.start("done-0"))  // forgotten: it would have run
        h.end()
        #expect(!h.start("done-4999"))
    }
}
