// Where a log batch's write and fdatasync run: on the loop while the disk is fast, on libuv's
// thread pool once it is slow (docs/DECISIONS.md, "Flushes on the loop").
//
// A batch on the thread pool costs a hand-off each way (the loop wakes a pool thread, the pool
// thread wakes the loop through an eventfd) and their context switches; on this 2-vCPU VM that
// was about as much CPU as the fdatasync itself: a node answered 29k durable PUTs/s at 16
// connections with its batches on the pool and 46k with them on the loop (Redis with
// appendfsync always also fsyncs on its one thread). The loop then waits for the disk during a
// batch (0.1–0.3 ms here), so the choice keeps that wait bounded:
//
//   batch on the loop, took ≤ loopFlushMaxMs         ─▶ the next one on the loop too
//   loopFlushSlowBatchesMax batches on the loop took  ─▶ every batch on the pool for
//   longer within one loopFlushSlowWindowMs              poolFlushStayMs, then the loop is
//                                                        tried again
//
// One slow batch alone is the machine's noise (the loop waited for a CPU, another process's
// flush went first: a few per minute here under load); several in a second are a slow disk,
// which thus stalls the loop for a few batches per stay, not for every batch.
// Work whose length the disk decides — zeros written ahead, sealing a segment, the fdatasync
// of --fsync everysec — always goes to the pool (AppendOnlyFile asks only for small batches).

package struct FlushPlacement: Sendable {
    private var poolUntilMs: UInt64 = 0
    /// When the current window of slow batches began, and how many it holds.
    private var slowWindowStartMs: UInt64 = 0
    private var slowInWindow = 0
    /// Batches on the loop that took longer than the bound.
    package private(set) var slowBatches = 0
    /// Batches run on the loop and on the pool, since start.
    package private(set) var batchesOnLoop = 0
    package private(set) var batchesOnPool = 0

    package init() {}

    /// Whether the next batch runs on the loop.
    package func runsOnLoop(nowMs: UInt64) -> Bool { nowMs >= poolUntilMs }

    /// Notes a batch that ran on the pool.
    package mutating func ranOnPool() { batchesOnPool += 1 }

    /// Notes a batch that ran on the loop for `tookUs` microseconds, ending at `nowMs`.
    package mutating func ranOnLoop(tookUs: UInt64, nowMs: UInt64) {
        batchesOnLoop += 1
        guard tookUs > Limits.loopFlushMaxMs * 1000 else { return }
        slowBatches += 1
        if nowMs >= slowWindowStartMs + Limits.loopFlushSlowWindowMs {
            slowWindowStartMs = nowMs
            slowInWindow = 0
        }
        slowInWindow += 1
        guard slowInWindow >= Limits.loopFlushSlowBatchesMax else { return }
        slowInWindow = 0
        poolUntilMs = nowMs + Limits.poolFlushStayMs
    }
}
