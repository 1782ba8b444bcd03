// The rules every replica applies to versions, so that replicas, replay and repair agree.
//
// Order: a stored entry is newer than another when its version is higher; two entries with the
// SAME version (two proxies that minted the same one, say) are ordered by a tie-break taken
// from their content — a tombstone above every value, values by a stable hash — so every
// replica keeps the same one whichever arrived first, and the range digests (EntryHash) see
// the content too, so repair finds and settles such a pair.
//
// Skew: a version whose time is more than `skewMsMax` ahead of the receiver's wall clock is
// refused by every path that accepts versions (hosts run NTP; a proxy or peer that far ahead
// is broken and must fail loudly, not win every later write). A stored entry that is that far
// ahead (written before this rule, or a clock that stepped back) yields to any acceptable
// write: the node logs a `forget` record for it first, so replay reproduces the replacement.

package enum VersionOrder {
    /// The tie-break of an entry with this content: tombstones highest, values by hash.
    @inline(__always)
    static func tieBreak(value: [UInt8]?) -> UInt64 {
        guard let value else { return UInt64.max }
        return StableHash.hash(value) >> 1
    }

    /// Whether an entry (version, content) is newer than another; false when they are equal.
    /// The content is hashed only when the versions are equal, which is rare.
    @inline(__always)
    package static func isNewer(_ version: UInt64, _ value: [UInt8]?, than otherVersion: UInt64, _ otherValue: [UInt8]?) -> Bool {
        if version != otherVersion { return version > otherVersion }
        return tieBreak(value: value) > tieBreak(value: otherValue)
    }

    /// The same order, from versions and tie-breaks (what key pages carry).
    @inline(__always)
    package static func isNewer(_ version: UInt64, tieBreak: UInt64, than otherVersion: UInt64, tieBreak otherTieBreak: UInt64) -> Bool {
        version != otherVersion ? version > otherVersion : tieBreak > otherTieBreak
    }
}

/// The bound on how far ahead of the wall clock an accepted version may be.
package struct VersionSkew: Sendable, Equatable {
    package var skewMsMax: UInt64

    package init(skewMsMax: UInt64 = Limits.clockSkewMsDefault) {
        self.skewMsMax = skewMsMax
    }

    /// How many milliseconds `version` is ahead of the wall clock (0 when not ahead).
    package static func aheadMs(of version: UInt64, wallClockUnixMs: Int64) -> UInt64 {
        let versionMs = HybridClock.split(version).ms
        let wallMs = HybridClock.milliseconds(unixMs: wallClockUnixMs)
        return versionMs > wallMs ? versionMs - wallMs : 0
    }

    /// True when `version` is at most `skewMsMax` ahead of the wall clock.
    @inline(__always)
    package func accepts(_ version: UInt64, wallClockUnixMs: Int64) -> Bool {
        Self.aheadMs(of: version, wallClockUnixMs: wallClockUnixMs) <= skewMsMax
    }
}
