// The rate limit on repeated failure lines (full disk, accept out of descriptors), on an
// injected clock: the first failure is reported at once, then at most one counted summary per
// interval, and a success ends the episode with its total.

import Testing
@testable import LinkRingCore

@Suite("Repeated failure report")
struct RepeatedFailureReportTests {
    @Test("the first failure is reported, then one summary per interval with the count since the last line")
    func summariesPerInterval() {
        var report = RepeatedFailureReport(intervalMs: 1_000)
        #expect(report.failed(3, nowMs: 5_000) == .started)
        #expect(report.isFailing)
        var lines: [RepeatedFailureReport.Line] = []
        for millisecond in stride(from: 5_010, through: 7_500, by: 10) {
            if let line = report.failed(2, nowMs: UInt64(millisecond)) { lines.append(line) }
        }
        #expect(lines == [.continuing(failures: 200, periodMs: 1_000), .continuing(failures: 200, periodMs: 1_000)])
        #expect(report.succeeded(nowMs: 7_600) == .ended(failures: 3 + 2 * 250, durationMs: 2_600))
        #expect(!report.isFailing)
    }

    @Test("a success without failures says nothing; a new episode starts with a full line again")
    func newEpisode() {
        var report = RepeatedFailureReport(intervalMs: 1_000)
        #expect(report.succeeded(nowMs: 0) == nil)
        #expect(report.failed(nowMs: 10) == .started)
        #expect(report.failed(nowMs: 20) == nil)
        #expect(report.succeeded(nowMs: 30) == .ended(failures: 2, durationMs: 20))
        #expect(report.succeeded(nowMs: 40) == nil)
        #expect(report.failed(nowMs: 50) == .started)
    }

    @Test("lines stay bounded: 100,000 failures over 60 s give one start and at most 6 summaries")
    func bounded() {
        var report = RepeatedFailureReport(intervalMs: 10_000)
        var lineCount = 0
        for index in 0..<100_000 where report.failed(nowMs: UInt64(index) * 60_000 / 100_000) != nil { lineCount += 1 }
        #expect(lineCount <= 7)
        #expect(lineCount >= 6)
    }
}
