import Testing
@testable import ZeroTaskBroker
import ZeroTaskProtocol

@Suite struct MethodGateTests {
    @Test func concurrencyAdmitsUpToTheLimitThenOneMorePerFinish() {
        var gate = MethodGate(MethodPolicy(concurrency: 2), now: 0)
        #expect(gate.admit(now: 0) == .start)
        #expect(gate.admit(now: 0) == .start)
        #expect(gate.admit(now: 0) == .full)
        #expect(gate.running == 2)
        gate.finished()
        #expect(gate.admit(now: 1) == .start)
        #expect(gate.admit(now: 1) == .full)
    }

    @Test func rateSpacesStartsAndSaysWhenToAskAgain() {
        var gate = MethodGate(MethodPolicy(rate: RateLimit(count: 10, per: 1)), now: 100)
        #expect(gate.admit(now: 100) == .start)
        guard case .wait(let until) = gate.admit(now: 100) else { Issue.record("a second start in the same instant was let through"); return }
        #expect(abs(until - 100.1) < 1e-9)
        #expect(gate.admit(now: 100.1) == .start)
        // No concurrency limit: finishing changes nothing for the rate.
        gate.finished()
        if case .start = gate.admit(now: 100.1) { Issue.record("a finish refilled the bucket") }
    }

    @Test func aFullMethodSpendsNoRateTokens() {
        var gate = MethodGate(MethodPolicy(concurrency: 1, rate: RateLimit(count: 1, per: 1, burst: 2)), now: 0)
        #expect(gate.admit(now: 0) == .start)
        for _ in 0..<5 { #expect(gate.admit(now: 0) == .full) }
        gate.finished()
        // The burst's second token is still there.
        #expect(gate.admit(now: 0) == .start)
    }

    @Test func adoptedTasksCountAgainstTheLimit() {
        var gate = MethodGate(MethodPolicy(concurrency: 3), now: 0)
        gate.adopt(running: 3)
        #expect(gate.admit(now: 0) == .full)
        #expect(!MethodGate(.none, now: 0).limits)
        #expect(gate.limits)
    }
}
