// The proxy's cluster clock on injected monotonic and wall times: samples from pings, the
// reference the nodes' clocks give, and the promise it exists for — two proxies whose own
// clocks are a minute apart still version writes in the order they happened (issue 19, 2).

import Testing
@testable import LinkRingCore

@Suite("Cluster clock")
struct ClusterClockTests {
    /// The nodes' (true) wall time at monotonic 0 of every proxy in these tests.
    let trueTimeAtZero: Int64 = 1_795_822_856_000
    let skew = VersionSkew(skewMsMax: 1_000)

    /// A ping at monotonic `sent`, answered at `received` by a node whose clock is `nodeError`
    /// ms off, seen by a proxy whose own wall clock is `proxyError` ms off.
    func sample(sent: UInt64, received: UInt64, nodeError: Int64 = 0, proxyError: Int64 = 0) -> ClockSample {
        let middle = trueTimeAtZero + Int64(sent + received) / 2
        return ClockSample(sentMonotonicMs: sent, receivedMonotonicMs: received,
                           receivedWallMs: trueTimeAtZero + Int64(received) + proxyError, nodeWallMs: middle + nodeError)
    }

    @Test("a sample puts the node's clock at the middle of the round trip; the offset is against this host's clock")
    func samples() {
        let seen = sample(sent: 100, received: 104, proxyError: -60_000)
        #expect(seen.referenceMs == trueTimeAtZero)
        #expect(seen.offsetMs == 60_000)
        #expect(sample(sent: 100, received: 100, nodeError: 250).referenceMs == trueTimeAtZero + 250)
    }

    @Test("nothing is minted or observed before the first sample")
    func unknownUntilLearned() {
        var clock = ClusterClock(origin: 1, skew: skew)
        let early = clock.next(monotonicMs: 10)
        let observed = clock.observe(12345 << 22, monotonicMs: 10)
        #expect(early == nil && !observed)
        clock.learn([])
        #expect(!clock.isLearned)
        clock.learn([sample(sent: 0, received: 2)])
        let version = clock.next(monotonicMs: 10)
        #expect(version.map(HybridClock.unixMs) == trueTimeAtZero + 10)
    }

    @Test("two proxies a minute apart, learning from the same nodes, version writes in the order they happen")
    func skewedProxiesAgree() throws {
        var ahead = ClusterClock(origin: 1, skew: skew)
        var behind = ClusterClock(origin: 2, skew: skew)
        ahead.learn([sample(sent: 0, received: 2, proxyError: 60_000), sample(sent: 0, received: 4, proxyError: 60_000)])
        behind.learn([sample(sent: 0, received: 2, proxyError: -60_000)])
        var last: UInt64 = 0
        for step in 1...50 {
            let monotonic = UInt64(step * 10)
            let minted = step.isMultiple(of: 2) ? ahead.next(monotonicMs: monotonic) : behind.next(monotonicMs: monotonic)
            let version = try #require(minted)
            #expect(version > last, "write \(step) minted below the one before it")
            last = version
        }
    }

    @Test("the reference: the largest sample within the skew bound of the upper median; a far-off node is left out")
    func reference() {
        #expect(ClusterClock.reference([], skewMsMax: 1_000) == nil)
        #expect(ClusterClock.reference([5, 0, 3], skewMsMax: 1_000)! == (5, 0))
        #expect(ClusterClock.reference([0, 0, 0, 60_000], skewMsMax: 1_000)! == (0, 1))
        #expect(ClusterClock.reference([0, 0, -5_000], skewMsMax: 1_000)! == (0, 1))
        // Two nodes that disagree: the faster is followed, so the slower refuses (loudly).
        #expect(ClusterClock.reference([-5_000, 0], skewMsMax: 1_000)! == (0, 1))
        #expect(ClusterClock.reference([0, 900, 1_800], skewMsMax: 1_000)! == (1_800, 0))
    }

    @Test("versions from nodes are observed unless they are more than the skew bound ahead of cluster time")
    func observe() throws {
        var clock = ClusterClock(origin: 1, skew: skew)
        clock.learn([sample(sent: 0, received: 0, proxyError: -60_000)])
        var node = HybridClock(origin: 9)
        let nodeVersion = node.next(wallClockUnixMs: trueTimeAtZero + 500)
        let followed = clock.observe(nodeVersion, monotonicMs: 0)
        let next = clock.next(monotonicMs: 0)
        let above = try #require(next)
        #expect(followed && above > nodeVersion)
        let farAhead = node.next(wallClockUnixMs: trueTimeAtZero + 5_000)
        let refused = !clock.observe(farAhead, monotonicMs: 0)
        #expect(refused && clock.aheadMs(of: farAhead, monotonicMs: 0) == 5_000)
        let later = clock.next(monotonicMs: 1)
        let after = try #require(later)
        #expect(after < farAhead)
    }

    @Test("nodes of an older release (no clock): this host's wall clock, until samples come")
    func fallBack() {
        var clock = ClusterClock(origin: 1, skew: skew)
        clock.fallBackToWallClock(monotonicMs: 100, wallMs: trueTimeAtZero + 100 - 7)
        #expect(clock.nowUnixMs(monotonicMs: 200) == trueTimeAtZero + 193)
        clock.learn([sample(sent: 300, received: 300)])
        #expect(clock.nowUnixMs(monotonicMs: 400) == trueTimeAtZero + 400)
    }

    @Test("a node's /_/health clock fields are read; an older node's absence is nil")
    func report() {
        let body = Array("{\"state\":\"ready\",\"wallClockMs\":1795822856123,\"versionClock\":987654321,\"sync\":{\"rounds\":3,\"peers\":1}}".utf8)
        let parsed = NodeReport.parse(body)
        #expect(parsed.wallClockMs == 1_795_822_856_123 && parsed.versionClock == 987_654_321)
        let old = NodeReport.parse(Array("{\"state\":\"ready\"}".utf8))
        #expect(old.wallClockMs == nil && old.versionClock == nil)
    }

    @Test("the latest version a hybrid clock holds is the last it minted")
    func latest() {
        var clock = HybridClock(origin: 5)
        let minted = clock.next(wallClockUnixMs: trueTimeAtZero)
        #expect(clock.latest == minted)
    }

    @Test("signed offsets in Prometheus seconds")
    func offsetSeconds() {
        #expect(PrometheusText.seconds(milliseconds: -59_997) == "-59.997")
        #expect(PrometheusText.seconds(milliseconds: 1_500) == "1.5")
        #expect(PrometheusText.seconds(milliseconds: 0) == "0")
    }
}
