import Foundation
import Synchronization

/// A poll loop on a thread of its own, and a way to wait for its end: what the broker, the node
/// and the broker's store writer each run on.
public final class LoopThread: Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Whether the body has returned, and who awaits that: the thread itself resumes them, so an
    /// awaiting task holds no thread of Swift's cooperative pool.
    private let state = Mutex<(ended: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Starts `body` on a new thread named `name`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { [self] in
            body()
            let waiters = state.withLock { s in
                s.ended = true
                defer { s.waiters = [] }
                return s.waiters
            }
            for w in waiters { w.resume() }
            finished.signal()
        }
        t.name = name
        t.start()
    }

    /// Blocks until the body has returned (at once if it has already, however often asked).
    public func wait() {
        finished.wait()
        finished.signal()
    }

    /// Waits for the body's end without holding a thread of Swift's cooperative pool.
    public func ended() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s in
                if !s.ended { s.waiters.append(c) }
                return s.ended
            }
            if resumeNow { c.resume() }
        }
    }
}
