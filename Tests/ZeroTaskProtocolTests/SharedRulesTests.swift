import Testing
import ZeroTaskProtocol

/// The rules node, client, CLI and benchmarks share: each written once.
@Suite struct SharedRulesTests {
    @Test func percentilesAreByNearestRank() {
        let samples = (1...10).map(Double.init)
        #expect(Percentile.nearestRank(0.5, inSorted: samples) == 5)
        #expect(Percentile.nearestRank(0.9, inSorted: samples) == 9)
        #expect(Percentile.nearestRank(0.99, inSorted: samples) == 10)
        #expect(Percentile.nearestRank(0, inSorted: samples) == 1)
        #expect(Percentile.nearestRank(1, inSorted: samples) == 10)
        #expect(Percentile.median([3, 1, 2]) == 2)
        #expect(Percentile.median([7]) == 7)
    }

    @Test func secondsReadWholeOrToTheMillisecond() {
        #expect(SecondsText.format(5) == "5 s")
        #expect(SecondsText.format(0.5) == "0.5 s")
        #expect(SecondsText.format(0.25) == "0.25 s")
        #expect(SecondsText.format(0.1 + 0.2) == "0.3 s")
        #expect(SecondsText.format(12.34567) == "12.346 s")
        #expect(SecondsText.format(3600) == "3600 s")
    }
}
