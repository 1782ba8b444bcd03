// Where the log's batches run (FlushPlacement): on the loop while they are quick; a few slow
// ones within a window move them to the thread pool for a while; one slow one alone does not.

import Testing
@testable import LinkRingCore

@Suite("Flush placement")
struct FlushPlacementTests {
    let slowUs = (Limits.loopFlushMaxMs + 1) * 1000

    @Test("quick batches stay on the loop; one slow batch alone is noise")
    func quickAndOneSlow() {
        var placement = FlushPlacement()
        #expect(placement.runsOnLoop(nowMs: 0))
        for second in 0..<10 {
            placement.ranOnLoop(tookUs: 200, nowMs: UInt64(second) * 1000)
            placement.ranOnLoop(tookUs: slowUs, nowMs: UInt64(second) * 1000 + 500)
            #expect(placement.runsOnLoop(nowMs: UInt64(second) * 1000 + 501), "one slow batch a second is not a slow disk")
        }
        #expect(placement.slowBatches == 10 && placement.batchesOnLoop == 20)
    }

    @Test("loopFlushSlowBatchesMax slow batches within the window move batches to the pool for the stay, then back")
    func slowDiskGoesToThePool() {
        var placement = FlushPlacement()
        for index in 0..<Limits.loopFlushSlowBatchesMax {
            #expect(placement.runsOnLoop(nowMs: 100 + UInt64(index)))
            placement.ranOnLoop(tookUs: slowUs, nowMs: 100 + UInt64(index))
        }
        let movedAt: UInt64 = 100 + UInt64(Limits.loopFlushSlowBatchesMax - 1)
        #expect(!placement.runsOnLoop(nowMs: movedAt))
        #expect(!placement.runsOnLoop(nowMs: movedAt + Limits.poolFlushStayMs - 1))
        placement.ranOnPool()
        #expect(placement.runsOnLoop(nowMs: movedAt + Limits.poolFlushStayMs), "the loop is tried again after the stay")
        #expect(placement.batchesOnPool == 1)
    }

    @Test("slow batches in different windows do not add up")
    func windowsDoNotAddUp() {
        var placement = FlushPlacement()
        var now: UInt64 = 0
        for _ in 0..<(3 * Limits.loopFlushSlowBatchesMax) {
            for _ in 0..<(Limits.loopFlushSlowBatchesMax - 1) { placement.ranOnLoop(tookUs: slowUs, nowMs: now) }
            now += Limits.loopFlushSlowWindowMs
            #expect(placement.runsOnLoop(nowMs: now))
        }
    }
}
