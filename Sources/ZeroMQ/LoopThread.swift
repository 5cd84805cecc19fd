import Foundation

/// A poll loop on a thread of its own, and a way to wait for its end: what the broker, the node
/// and the broker's store writer each run on.
public final class LoopThread: Sendable {
    private let finished = DispatchSemaphore(value: 0)

    /// Starts `body` on a new thread named `name`.
    public init(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread { [finished] in
            body()
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
            Thread {
                self.wait()
                c.resume()
            }.start()
        }
    }
}
