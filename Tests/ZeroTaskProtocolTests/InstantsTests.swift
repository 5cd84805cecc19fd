import Foundation
import Testing
import ZeroTaskProtocol

/// The two clocks' times: seconds inside, spans between instants of one kind, each clock read once.
@Suite struct InstantsTests {
    @Test func spansMoveAnInstantAndSeparateTwo() {
        let t: MonotonicInstant = 10
        #expect((t + 2.5).seconds == 12.5)
        #expect((t - 4).seconds == 6)
        #expect((t + 2.5) - t == 2.5)
        var u = t
        u += 1
        u -= 0.5
        #expect(u == MonotonicInstant(seconds: 10.5))
        let w = WallInstant(seconds: 1_800_000_000)
        #expect((w + 60) - w == 60)
        #expect((w + 60).seconds == 1_800_000_060)
    }

    @Test func orderIsTheSecondsOrder() {
        #expect(MonotonicInstant(seconds: 1) < 2)
        #expect(MonotonicInstant.distantPast < 0 && MonotonicInstant(seconds: 0) < .distantFuture)
        #expect(WallInstant(seconds: 5) >= 5 && WallInstant(seconds: 5) <= 5 && WallInstant(seconds: 6) > 5)
        #expect([MonotonicInstant(seconds: 3), 1, 2].sorted() == [1, 2, 3])
    }

    @Test func printsAsItsSeconds() {
        // Messages and logs that interpolate a time read as they did when it was a Double.
        #expect("\(MonotonicInstant(seconds: 2.5))" == "2.5")
        #expect("\(WallInstant(seconds: 1_800_000_000))" == "\(1_800_000_000.0)")
    }

    @Test func eachReadsItsOwnClock() {
        let a = MonotonicInstant.now(), b = MonotonicInstant.now()
        #expect(b >= a)
        // The wall clock is seconds since 1970, as Foundation reads it.
        let wall = WallInstant.now().seconds, date = Date().timeIntervalSince1970
        #expect(abs(wall - date) < 5)
    }
}
