import Testing
@testable import ZeroTaskNode

/// The per-worker budget for plugin output in the node's log, with the clock injected.
@Suite struct OutputBudgetTests {
    @Test func aBurstThenTheRateThenSuppressedBytesAreCountedAndReported() {
        var b = OutputBudget()
        var admitted = 0
        while b.admit(1000, now: 0) { admitted += 1000 }
        #expect(admitted == OutputBudget.burst / 1000 * 1000)
        #expect(b.suppressed == 1000)
        let again = b.admit(1000, now: 0)
        #expect(!again && b.suppressed == 2000)
        // Reported once a second while output is dropped, at once when forced.
        let early = b.takeSuppressed(now: 0.5)
        let onTime = b.takeSuppressed(now: 1.0)
        #expect(early == nil && onTime == 2000 && b.suppressed == 0)

        var fresh = OutputBudget()
        while fresh.admit(1000, now: 10) {}
        let forced = fresh.takeSuppressed(now: 10, force: true)
        let nothing = fresh.takeSuppressed(now: 10, force: true)
        #expect(forced == 1000 && nothing == nil)
        _ = fresh.admit(1_000_000, now: 10)
        let tooSoon = fresh.takeSuppressed(now: 10.5)
        let second = fresh.takeSuppressed(now: 11.1)
        #expect(tooSoon == nil && second == 1_000_000)
        // The rate refills the allowance: 16 KiB a second.
        let refilled = fresh.admit(16_000, now: 11.1)
        let spent = fresh.admit(16_000, now: 11.1)
        let later = fresh.admit(16_000, now: 12.2)
        #expect(refilled && !spent && later)
    }

    @Test func controlCharactersAreEscaped() {
        #expect("plain\ttext ü🚀".escapingControlCharacters == "plain\ttext ü🚀")
        #expect("\u{1B}[2Jred\r\u{7F}\u{85}".escapingControlCharacters == "\\u{1B}[2Jred\\u{D}\\u{7F}\\u{85}")
    }
}
