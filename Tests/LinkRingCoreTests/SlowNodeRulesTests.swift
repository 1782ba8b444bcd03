// The rules for slow and frozen nodes on injected milliseconds: the late limit follows a
// node's p99 within its bounds, the hedge budget lets bursts through but not a steady flood,
// a late request makes a node suspect until it answers, and silence takes it down at once.

import Testing
@testable import LinkRingCore

@Suite("Slow and frozen nodes")
struct SlowNodeRulesTests {
    @Test("the late limit is twice the last full window's p99, within its floor and ceiling")
    func lateLimit() {
        var window = LatencyWindow(nowMs: 0)
        #expect(window.lateAfterMs == UInt64(Limits.lateAfterMsMin), "no window has passed yet")
        for i in 0..<1_000 { window.record(i < 985 ? 1 : 30, nowMs: 10) }
        window.record(1, nowMs: Limits.latencyWindowMs + 10)  // closes the window
        #expect(window.p99Ms == 30)
        #expect(window.lateAfterMs == 60)
        for _ in 0..<100 { window.record(500, nowMs: 2 * Limits.latencyWindowMs + 20) }
        window.record(1, nowMs: 3 * Limits.latencyWindowMs + 30)
        #expect(window.lateAfterMs == UInt64(Limits.lateAfterMsMax), "a slow node's limit stays far below the node time-out")
        for _ in 0..<100 { window.record(0, nowMs: 4 * Limits.latencyWindowMs) }
        window.record(0, nowMs: 5 * Limits.latencyWindowMs)
        #expect(window.lateAfterMs == UInt64(Limits.lateAfterMsMin))
    }

    @Test("a window with too few answers keeps the previous p99 (a frozen node answers nothing)")
    func quietWindowKeepsP99() {
        var window = LatencyWindow(nowMs: 0)
        for _ in 0..<100 { window.record(20, nowMs: 1) }
        window.record(20, nowMs: Limits.latencyWindowMs + 1)
        window.record(90, nowMs: 3 * Limits.latencyWindowMs)
        #expect(window.p99Ms == 20)
    }

    @Test("the percentile of bucket counts")
    func percentile() {
        var counts = [UInt32](repeating: 0, count: 101)
        counts[0] = 99
        counts[7] = 1
        #expect(LatencyWindow.percentile99(counts, total: 100) == 0)
        counts[7] = 2
        #expect(LatencyWindow.percentile99(counts, total: 101) == 7)
    }

    @Test("hedges: a burst goes through, then one read in ten at most")
    func budget() {
        var budget = HedgeBudget()
        var spent = 0
        while budget.spend() { spent += 1 }
        #expect(spent == Limits.hedgeBurstMax)
        var hedged = 0
        for _ in 0..<10_000 {
            budget.earn()
            if budget.spend() { hedged += 1 }
        }
        #expect(hedged == 10_000 * Limits.hedgeTenthsPerRead / 10)
    }

    @Test("a late request makes a node suspect (not preferred for reads) until it answers")
    func suspect() {
        var health = NodeHealth(failuresToDown: 3)
        health.recordPing(nowMs: 1, roundTripMs: 1, report: NodeReport(readiness: .ready))
        #expect(health.isPreferred)
        health.suspect()
        #expect(health.isReady && !health.isPreferred && health.isUsable)
        health.recordSuccess(nowMs: 2)
        #expect(health.isPreferred)
    }

    @Test("silence takes a node down at once; it comes back through the readiness rules")
    func silence() {
        var health = NodeHealth(failuresToDown: 3)
        health.recordPing(nowMs: 1, roundTripMs: 1, report: NodeReport(readiness: .ready, syncRounds: 4, peers: 1))
        health.suspect()
        let changed = health.recordSilence(nowMs: 1_001)
        #expect(changed && health.state == .down && !health.isUsable && !health.isSuspect)
        health.recordPing(nowMs: 2_000, roundTripMs: 1, report: NodeReport(readiness: .ready, syncRounds: 4, peers: 1))
        #expect(health.state == .up && health.readiness == .catchingUp, "it missed writes while frozen")
    }
}
