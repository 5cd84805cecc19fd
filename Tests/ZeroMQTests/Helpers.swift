import Foundation
import Synchronization
import Testing
import ZeroMQ

struct NothingArrived: Error, CustomStringConvertible {
    var description: String { "no message arrived within the guard time" }
}

extension ZMQSocket {
    /// Receives one message, failing instead of hanging when nothing comes (a guard, not a timing check).
    func receiveWithin(seconds: Double = 10, maxFrames: Int = 64) throws -> ZMQReceived {
        var poller = ZMQPoller()
        poller.add(self)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try poller.poll(timeoutMilliseconds: 100)[0].contains(.readable),
                let got = try receive(dontWait: true, maxFrames: maxFrames)
            {
                return got
            }
        }
        throw NothingArrived()
    }

    func framesWithin(seconds: Double = 10) throws -> [[UInt8]] {
        switch try receiveWithin(seconds: seconds) {
        case .frames(let f): return f
        case .tooManyFrames(let n): throw ZMQError("test: unexpected \(n) frames", errno: 0)
        }
    }
}

/// Runs `body` on a thread of its own and hands back what it returned or threw, or nil when it
/// did not return within `seconds`. Used only to turn a would-be hang into a failure; the test
/// asserts on the value on its own thread (an issue recorded from a thread the test does not
/// wait for could land after the test ended, or nowhere).
func outcome<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () throws -> T) -> Result<T, any Error>? {
    let done = DispatchSemaphore(value: 0)
    let box = Mutex<Result<T, any Error>?>(nil)
    let t = Thread {
        let r = Result { try body() }
        box.withLock { $0 = r }
        done.signal()
    }
    t.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return box.withLock { $0 }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
