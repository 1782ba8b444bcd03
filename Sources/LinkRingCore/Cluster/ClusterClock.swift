// The proxy's clock for versions: the storage nodes' wall clocks, carried forward on this
// host's monotonic clock — never this host's own wall clock.
//
//   ping ─▶ node answers {"wallClockMs": W, "versionClock": V}
//        ─▶ ClockSample: W + round trip / 2 − monotonic at receipt (one number per node)
//        ─▶ learn(samples): the reference = the largest sample within --clock-skew-ms of
//           their upper median (one node whose clock is far off is left out, and shown; of
//           two nodes that disagree the faster wins, so the slower refuses writes: loudly)
//   cluster time = monotonic now + reference ─▶ HybridClock.next / observe
//
// Why: a proxy whose clock is 60 s behind used to mint versions that lost to writes
// acknowledged a minute earlier; one 60 s ahead had every write refused. Both proxies now mint
// on the same time base, the nodes' (which also judge skew), so the order of two writes
// through two proxies is wrong only inside a window of twice the nodes' clock error plus half
// a ping round trip (docs/DECISIONS.md, "Clocks"). The monotonic clock never steps, so an NTP
// step on the proxy's host changes nothing either. The node's version clock V (the highest
// version it minted or accepted) is observed too, and so is every version a node answers with:
// a version minted after them is higher.
//
// Until the first sample the time is unknown and `next` mints nothing (the proxy holds writes
// for that moment, normally one ping round trip at start-up). Nodes that report no clock
// (an older release) leave the proxy on its own wall clock, through `fallBackToWallClock`.
//
// Pure: the caller passes its monotonic and wall times, so the tests need no sleeping.

/// One node's clock as one ping saw it.
package struct ClockSample: Sendable, Equatable {
    /// The node's wall clock minus this proxy's monotonic clock, in milliseconds.
    package var referenceMs: Int64
    /// The node's wall clock minus this proxy's wall clock, in milliseconds (for operators).
    package var offsetMs: Int64

    /// A ping sent at `sentMonotonicMs` and answered at `receivedMonotonicMs`, when this
    /// host's wall clock read `receivedWallMs`, from a node whose clock read `nodeWallMs`
    /// (taken as the middle of the round trip).
    package init(sentMonotonicMs: UInt64, receivedMonotonicMs: UInt64, receivedWallMs: Int64, nodeWallMs: Int64) {
        let halfRoundTrip = Int64((receivedMonotonicMs &- sentMonotonicMs) / 2)
        referenceMs = nodeWallMs + halfRoundTrip - Int64(receivedMonotonicMs)
        offsetMs = nodeWallMs + halfRoundTrip - receivedWallMs
    }

    package init(referenceMs: Int64, offsetMs: Int64) {
        self.referenceMs = referenceMs
        self.offsetMs = offsetMs
    }
}

package struct ClusterClock: Sendable {
    private var clock: HybridClock
    package var skew: VersionSkew { clock.skew }
    /// Cluster time minus this host's monotonic clock (ms); nil until learned.
    package private(set) var referenceMs: Int64?
    /// Samples left out of the last reference: further than the skew bound from the median.
    package private(set) var outliers = 0

    package init(origin: UInt64, skew: VersionSkew) {
        clock = HybridClock(origin: origin, skew: skew)
    }

    package var isLearned: Bool { referenceMs != nil }
    /// The highest version minted or observed: a version at or below it needs no observing.
    package var latest: UInt64 { clock.latest }

    /// Unix milliseconds of cluster time, or nil before the first sample.
    package func nowUnixMs(monotonicMs: UInt64) -> Int64? {
        referenceMs.map { Int64(monotonicMs) + $0 }
    }

    /// Takes the reference from the nodes' latest samples (none: the reference stays).
    package mutating func learn(_ samples: [ClockSample]) {
        guard let chosen = Self.reference(samples.map(\.referenceMs), skewMsMax: skew.skewMsMax) else { return }
        referenceMs = chosen.referenceMs
        outliers = chosen.outliers
    }

    /// No node reports its clock (an older release): use this host's wall clock.
    package mutating func fallBackToWallClock(monotonicMs: UInt64, wallMs: Int64) {
        if referenceMs == nil { referenceMs = wallMs - Int64(monotonicMs) }
    }

    /// A version above every one minted or observed; nil while the time is unknown.
    package mutating func next(monotonicMs: UInt64) -> UInt64? {
        guard let now = nowUnixMs(monotonicMs: monotonicMs) else { return nil }
        return clock.next(wallClockUnixMs: now)
    }

    /// Moves past `version` unless it is more than the skew bound ahead of cluster time, or
    /// the time is not known yet (then false: nothing to judge it by, and nothing minted yet).
    @discardableResult
    package mutating func observe(_ version: UInt64, monotonicMs: UInt64) -> Bool {
        guard let now = nowUnixMs(monotonicMs: monotonicMs) else { return false }
        return clock.observe(version, wallClockUnixMs: now)
    }

    /// How far `version` is ahead of cluster time (0 when not ahead, or unknown).
    package func aheadMs(of version: UInt64, monotonicMs: UInt64) -> UInt64 {
        nowUnixMs(monotonicMs: monotonicMs).map { VersionSkew.aheadMs(of: version, wallClockUnixMs: $0) } ?? 0
    }

    /// The largest reference within `skewMsMax` of the upper median, and how many were left out.
    /// The largest, so that no agreeing node's clock is ahead of the versions minted here; the
    /// upper median, so that a node behind the others is the one left out: it refuses the
    /// versions minted here (422, logged on both sides) instead of all versions silently
    /// following its slow clock.
    package static func reference(_ references: [Int64], skewMsMax: UInt64) -> (referenceMs: Int64, outliers: Int)? {
        guard !references.isEmpty else { return nil }
        let sorted = references.sorted()
        let median = sorted[sorted.count / 2]
        let bound = Int64(skewMsMax)
        let agreeing = sorted.filter { abs($0 - median) <= bound }
        return (agreeing.last!, sorted.count - agreeing.count)
    }
}
