// The hybrid clock on an injected wall clock: strictly increasing versions, the counter
// overflow, observing another clock's versions; the stable hash's known answers.

import Testing
@testable import LinkRingCore

@Suite("Hybrid clock")
struct HybridClockTests {
    let base: Int64 = 1_795_822_856_000

    @Test("versions strictly increase, even when the wall clock steps back")
    func monotonic() {
        var clock = HybridClock(origin: 3)
        var last: UInt64 = 0
        for wall in [base, base, base + 5, base - 60_000, base - 60_000, base + 1, base + 10] {
            let version = clock.next(wallClockUnixMs: wall)
            #expect(version > last)
            #expect(HybridClock.split(version).origin == 3)
            last = version
        }
    }

    @Test("more than 4096 versions in one millisecond run ahead instead of repeating")
    func counterOverflow() {
        var clock = HybridClock(origin: 0)
        var last: UInt64 = 0
        for _ in 0..<10_000 {
            let version = clock.next(wallClockUnixMs: base)
            #expect(version > last)
            last = version
        }
        #expect(HybridClock.unixMs(of: last) == base + 2)
    }

    @Test("observing a newer version moves the clock past it; two origins never collide")
    func observe() {
        var a = HybridClock(origin: 1)
        var b = HybridClock(origin: 2)
        let future = b.next(wallClockUnixMs: base + 1_000)
        let observed = a.observe(future, wallClockUnixMs: base)
        #expect(observed)
        #expect(a.next(wallClockUnixMs: base) > future)
        var c = HybridClock(origin: 1)
        var d = HybridClock(origin: 2)
        #expect(c.next(wallClockUnixMs: base) != d.next(wallClockUnixMs: base))
        #expect(HybridClock.unixMs(of: future) == base + 1_000)
    }

    @Test("the stable hash has known answers")
    func fnv() {
        #expect(FNV1a.hash64([]) == 0xCBF2_9CE4_8422_2325)
        #expect(FNV1a.hash64(bytes("a")) == 0xAF63_DC4C_8601_EC8C)
        #expect(FNV1a.hash64(bytes("foobar")) == 0x8594_4171_F739_67E8)
    }
}
