// The proxy's rules for a node that is slow or frozen rather than dead (a GC pause, a stalled
// disk, SIGSTOP): how long a request may wait before it counts as late, and how many reads
// may be hedged. Pure, on the caller's milliseconds, so the tests need no sleeping.
//
//   every answer ─▶ LatencyWindow.record(ms) ─(each window)─▶ p99 of the last full window
//   lateAfterMs = clamp(2 × p99, Limits.lateAfterMsMin, Limits.lateAfterMsMax)
//   a request older than that ─▶ late: the node is suspect (reads go elsewhere first); a read
//        is hedged to the next replica if HedgeBudget allows; a write already acknowledged by
//        another replica is answered without this one
//   every read ─▶ HedgeBudget earns a tenth of a hedge; a hedge spends one; the burst is
//        bounded, so when most reads would hedge (the whole cluster is slow) at most one in ten
//        does and a slow cluster does not double its own load

/// Latencies of one node's answers, in whole milliseconds, per window.
package struct LatencyWindow: Sendable {
    /// Answers per bucket: bucket i counts latencies of i ms; the last bucket everything above.
    private var counts = [UInt32](repeating: 0, count: Limits.lateAfterMsMax + 1)
    private var total: UInt32 = 0
    private var windowStartMs: UInt64
    /// The p99 of the last full window (0 before one has passed).
    package private(set) var p99Ms = 0

    package init(nowMs: UInt64) {
        windowStartMs = nowMs
    }

    /// One answer that took `latencyMs`.
    @inline(__always)
    package mutating func record(_ latencyMs: UInt64, nowMs: UInt64) {
        if nowMs &- windowStartMs >= Limits.latencyWindowMs { closeWindow(nowMs: nowMs) }
        counts[Int(min(latencyMs, UInt64(counts.count - 1)))] += 1
        total += 1
    }

    /// How old a request to this node may be before it is late.
    package var lateAfterMs: UInt64 {
        UInt64(min(max(2 * p99Ms, Limits.lateAfterMsMin), Limits.lateAfterMsMax))
    }

    private mutating func closeWindow(nowMs: UInt64) {
        if total >= Limits.latencySamplesMin { p99Ms = Self.percentile99(counts, total: total) }
        for index in counts.indices { counts[index] = 0 }
        total = 0
        windowStartMs = nowMs
    }

    static func percentile99(_ counts: [UInt32], total: UInt32) -> Int {
        let rank = (UInt64(total) * 99 + 99) / 100
        var seen: UInt64 = 0
        for (latency, count) in counts.enumerated() {
            seen += UInt64(count)
            if seen >= rank { return latency }
        }
        return counts.count - 1
    }
}

/// Hedged reads allowed: earned by reads, spent by hedges, bounded.
package struct HedgeBudget: Sendable {
    /// In tenths of a hedge.
    private var tenths: Int

    package init() {
        tenths = Limits.hedgeBurstMax * 10
    }

    /// A read was made: it earns `Limits.hedgeTenthsPerRead` tenths, up to the burst.
    @inline(__always)
    package mutating func earn() {
        tenths = min(tenths + Limits.hedgeTenthsPerRead, Limits.hedgeBurstMax * 10)
    }

    /// Spends one hedge if there is one.
    package mutating func spend() -> Bool {
        guard tenths >= 10 else { return false }
        tenths -= 10
        return true
    }
}
