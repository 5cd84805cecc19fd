import Testing
import ZeroTaskTestSupport
@testable import ZeroTaskClient

/// How concurrent waits are coalesced into few long polls (no sockets, no clock).
@Suite struct WaitCoverageTests {
    @Test func waitsArrivingWhileARoundGathersShareOnePoll() {
        var c = WaitCoverage()
        #expect(c.waiterAdded("a") == true)  // the first one starts a round
        for id in ["b", "c", "a"] { #expect(c.waiterAdded(id) == false) }
        #expect(c.beginPoll().ids == ["a", "b", "c"])
        #expect(c.covered == ["a", "b", "c"] && c.uncovered.isEmpty)
    }

    @Test func aWaitForACoveredTaskJoinsThePollInFlight() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        _ = c.beginPoll().ids
        // A second waiter for "a" while its poll is out: no new poll for it, but a new round
        // starts (it finds nobody gathering) and has nothing to take.
        #expect(c.waiterAdded("a") == true)
        #expect(c.beginPoll().ids == [])
    }

    @Test func newcomersDuringAPollGetOneMorePollNotOneEach() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        #expect(c.beginPoll().ids == ["a"])
        #expect(c.waiterAdded("b") == true)
        #expect(c.waiterAdded("c") == false)
        #expect(c.beginPoll().ids == ["b", "c"])
    }

    @Test func aReturningPollRepollsWhatIsStillWaitedTogetherWithNewcomers() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        _ = c.waiterAdded("b")
        let ids = c.beginPoll().ids
        _ = c.waiterAdded("n")  // starts its own round...
        // ...which has not taken "n" yet when the first poll returns: "a" done, "b" still waited.
        #expect(c.pollEnded(ids) { $0 == "b" } == false)  // the other round will take both
        #expect(c.beginPoll().ids == ["b", "n"])
        // When nobody else gathers, the returning round goes on by itself.
        #expect(c.pollEnded(["b", "n"]) { $0 == "n" } == true)
        #expect(c.beginPoll().ids == ["n"])
        #expect(c.pollEnded(["n"]) { _ in false } == false)
        #expect(c.uncovered.isEmpty && c.covered.isEmpty)
    }

    @Test func aLargeRoundIsSplitIntoPollsOfAtMostTheLimit() {
        var c = WaitCoverage()
        for i in 0..<10 { _ = c.waiterAdded("t\(i)") }
        let first = c.beginPoll(limit: 4)
        #expect(first.ids.count == 4 && first.more)
        #expect(c.waiterAdded("late") == false)  // the split-off round is gathering already
        let second = c.beginPoll(limit: 4)
        let third = c.beginPoll(limit: 4)
        #expect(second.ids.count == 4 && second.more && third.ids.count == 3 && !third.more)
        #expect(Set(first.ids + second.ids + third.ids).count == 11)
    }

    @Test func anIdWhoseWaitersLeftIsNotPolled() {
        var c = WaitCoverage()
        _ = c.waiterAdded("a")
        c.waitersGone("a")
        #expect(c.beginPoll().ids == [])
    }
}
