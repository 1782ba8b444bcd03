// Versions: 64-bit hybrid timestamps, strictly increasing per clock, unique per origin.
//
//   version = milliseconds since 2020-01-01 (42 bits, until 2159)
//           | counter within the millisecond (12 bits)
//           | origin: the proxy or node that minted it (10 bits)
//
// `next` never goes backwards: if the wall clock steps back, or 4096 versions are minted in
// one millisecond, the logical millisecond runs ahead of the wall clock until it catches up.
// `observe` moves the clock past a version seen from elsewhere, so a node's own write always
// beats a write it has already accepted. Equal times from two origins differ in the origin
// bits; equal versions (two clocks with one origin) are ordered by VersionOrder's tie-break.
//
// The clock never wraps: `observe` ignores a version more than the allowed skew ahead of the
// wall clock (VersionSkew), so no stray version can drag it into the far future, and `next`
// saturates at the last millisecond the 42 bits hold (year 2159) instead of overflowing into
// tiny versions that would lose to every stored write.

package struct HybridClock: Sendable {
    static let epochUnixMs: Int64 = 1_577_836_800_000
    static let counterBits: UInt64 = 12
    static let originBits: UInt64 = 10
    static let originsMax: UInt64 = 1 << originBits
    /// The last millisecond the version's 42 time bits can hold.
    static let millisecondsMax: UInt64 = (1 << (64 - counterBits - originBits)) - 1
    static let counterMax: UInt64 = (1 << counterBits) - 1

    package let origin: UInt64
    package let skew: VersionSkew
    private var lastMs: UInt64 = 0
    private var counter: UInt64 = 0

    package init(origin: UInt64, skew: VersionSkew = VersionSkew()) {
        precondition(origin < Self.originsMax, "origin must be below \(Self.originsMax)")
        self.origin = origin
        self.skew = skew
    }

    /// A version greater than every version this clock has minted or observed, until the
    /// clock saturates at `millisecondsMax` (then the last version again: never a smaller one).
    package mutating func next(wallClockUnixMs: Int64) -> UInt64 {
        let wallMs = min(Self.milliseconds(unixMs: wallClockUnixMs), Self.millisecondsMax)
        if wallMs > lastMs {
            lastMs = wallMs
            counter = 0
        } else if counter < Self.counterMax {
            counter += 1
        } else if lastMs < Self.millisecondsMax {
            lastMs += 1
            counter = 0
        }
        return latest
    }

    /// Moves the clock so that the next version is greater than `version`, unless `version`
    /// is more than the allowed skew ahead of the wall clock: then it is ignored (false).
    @discardableResult
    package mutating func observe(_ version: UInt64, wallClockUnixMs: Int64) -> Bool {
        guard skew.accepts(version, wallClockUnixMs: wallClockUnixMs) else { return false }
        let parts = Self.split(version)
        if parts.ms > lastMs || (parts.ms == lastMs && parts.counter > counter) {
            lastMs = parts.ms
            counter = parts.counter
        }
        return true
    }

    /// The highest version this clock has minted or observed (its own origin bits): what a
    /// node reports on /_/health, so that a proxy mints above everything the node accepted.
    package var latest: UInt64 {
        lastMs << (Self.counterBits + Self.originBits) | counter << Self.originBits | origin
    }

    /// Milliseconds since the clock's epoch (0 before it).
    package static func milliseconds(unixMs: Int64) -> UInt64 {
        UInt64(max(0, unixMs - epochUnixMs))
    }

    package static func split(_ version: UInt64) -> (ms: UInt64, counter: UInt64, origin: UInt64) {
        (version >> (counterBits + originBits),
         (version >> originBits) & ((1 << counterBits) - 1),
         version & (originsMax - 1))
    }

    /// Unix milliseconds of a version's time part.
    package static func unixMs(of version: UInt64) -> Int64 {
        Int64(split(version).ms) + epochUnixMs
    }

    /// A random origin, the default when none is configured: a hash of the listen address
    /// gave equal origins to proxies on `0.0.0.0:PORT` of different hosts (DECISIONS.md).
    package static func randomOrigin<Generator: RandomNumberGenerator>(using generator: inout Generator) -> UInt64 {
        UInt64.random(in: 0..<originsMax, using: &generator)
    }
}
