import Testing
@testable import ZeroTaskClient

/// How concurrent waits are coalesced into few long polls (no sockets, no clock).
@Suite struct WaitCoverageTests {
    @Test func waitsArrivingWhileARoundGathersShareOnePoll() {
        var c = WaitCoverage()
        #expect(c.waiterAdded("a") == true)  // the first one starts a round
        for id in ["b", "c", "a"] { #expect(c.waiterAdded(id) == false) }
        #expect(c.beginPoll() == ["a", "b", "c"])
        #expect(c.covered == ["a", "b", "c"] && c.uncovered.isEmpty)
    }

    @Test func aWaitForACoveredTaskJoinsThePollInFlight() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        _ = c.beginPoll()
        // A second waiter for "a" while its poll is out: no new poll for it, but a new round
        // starts (it finds nobody gathering) and has nothing to take.
        #expect(c.waiterAdded("a") == true)
        #expect(c.beginPoll() == [])
    }

    @Test func newcomersDuringAPollGetOneMorePollNotOneEach() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        #expect(c.beginPoll() == ["a"])
        #expect(c.waiterAdded("b") == true)
        #expect(c.waiterAdded("c") == false)
        #expect(c.beginPoll() == ["b", "c"])
    }

    @Test func aReturningPollRepollsWhatIsStillWaitedTogetherWithNewcomers() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        _ = c.waiterAdded("b")
        let ids = c.beginPoll()
        _ = c.waiterAdded("n")  // starts its own round...
        // ...which has not taken "n" yet when the first poll returns: "a" done, "b" still waited.
        #expect(c.pollEnded(ids) { $0 == "b" } == false)  // the other round will take both
        #expect(c.beginPoll() == ["b", "n"])
        // When nobody else gathers, the returning round goes on by itself.
        #expect(c.pollEnded(["b", "n"]) { $0 == "n" } == true)
        #expect(c.beginPoll() == ["n"])
        #expect(c.pollEnded(["n"]) { _ in false } == false)
        #expect(c.uncovered.isEmpty && c.covered.isEmpty)
    }

    @Test func anIdWhoseWaitersLeftIsNotPolled() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        c.waitersGone("a")
        #expect(c.beginPoll() == [])
    }
}
