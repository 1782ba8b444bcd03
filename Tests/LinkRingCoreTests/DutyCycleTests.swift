// DutyCycle: the pause after a piece of background work holds it to its share of the time.

import LinkRingCore
import Testing

@Suite("Duty cycle")
struct DutyCycleTests {
    @Test("a piece is followed by the pause that makes it the given share; at least the minimum")
    func pauses() {
        #expect(DutyCycle.pauseMs(afterWorkNs: 1_000_000, percent: 10) == 9)
        #expect(DutyCycle.pauseMs(afterWorkNs: 3_000_000, percent: 25) == 9)
        #expect(DutyCycle.pauseMs(afterWorkNs: 1_500_000, percent: 50) == 2, "rounded up to whole milliseconds")
        #expect(DutyCycle.pauseMs(afterWorkNs: 0, percent: 10) == 1, "the loop polls between two pieces")
        #expect(DutyCycle.pauseMs(afterWorkNs: 5_000_000, percent: 100) == 1)
        #expect(DutyCycle.pauseMs(afterWorkNs: 5_000_000, percent: 100, minimumMs: 0) == 0)
        #expect(DutyCycle.pauseMs(afterWorkNs: 1_000_000, percent: 0) == 99, "a share below 1 % is 1 %")
        #expect(DutyCycle.pauseMs(afterWorkNs: UInt64.max, percent: 1) > 0, "no overflow")
    }

    @Test("processes told at once begin a step apart by position, within a bounded span however many")
    func staggers() {
        let delays = (0..<12).map { DutyCycle.staggerMs(position: $0, stepMs: 250, steps: 5) }
        #expect(delays == [0, 250, 500, 750, 1_000, 0, 250, 500, 750, 1_000, 0, 250])
        #expect((0..<10_000).allSatisfy { DutyCycle.staggerMs(position: $0, stepMs: 250, steps: 5) <= 1_000 })
        #expect(DutyCycle.staggerMs(position: -1, stepMs: 250, steps: 5) == 0)
        #expect(DutyCycle.staggerMs(position: 7, stepMs: 250, steps: 0) == 0, "no steps: no stagger, no division by zero")
    }
}
