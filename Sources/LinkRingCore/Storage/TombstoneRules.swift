// When a tombstone may be forgotten, and when a data directory is too old to serve
// (docs/DECISIONS.md, "Tombstone collection"). A tombstone exists only to beat an older value
// some replica may still hold; once no replica can hold one, it is dead weight (one index entry
// and one record per deleted key, for ever).
//
//   collect a tombstone  ⇔  written more than `graceMs` ago (Cassandra's gc_grace_seconds,
//                           default 10 days, --tombstone-grace-ms)
//                        AND every replica's digest of its key range has equalled this node's
//                           since it was written (+ the clock-skew bound): the replicas then
//                           held the same entries, this tombstone included, so none holds an
//                           older value of the key
//
//   a data directory last alive more than `graceMs` ago is stale: its peers may have collected
//   tombstones of keys it still holds alive, and serving or repairing from it would resurrect
//   them. The node refuses it (`--rejoin-empty` sets its log aside and refills from the peers).
//
//   repair does not pull a peer's tombstone older than `graceMs` of a key this node holds nothing
//   of: it would be collected again at once (both replicas collect within a sweep of each other).

package struct TombstoneRules: Sendable, Equatable {
    package var graceMs: UInt64
    /// The bound on how far a version's clock may be ahead of this host's (VersionSkew).
    package var skewMs: UInt64

    package init(graceMs: UInt64 = Limits.tombstoneGraceMsDefault, skewMs: UInt64 = Limits.clockSkewMsDefault) {
        self.graceMs = graceMs
        self.skewMs = skewMs
    }

    /// Whether the tombstone of `version` may be dropped now; `rangeConfirmedUnixMs` is when
    /// every replica's digest of its range last equalled this node's (nil: not since start-up).
    package func isCollectible(version: UInt64, rangeConfirmedUnixMs: Int64?, nowUnixMs: Int64) -> Bool {
        let written = HybridClock.unixMs(of: version)
        guard let confirmed = rangeConfirmedUnixMs, nowUnixMs - written >= Int64(graceMs) else { return false }
        return confirmed > written + Int64(skewMs)
    }

    /// Whether a record of `version` was written more than the grace period ago (plus the skew
    /// bound): a tombstone over it may have been collected on its replicas.
    package func isPastGrace(version: UInt64, nowUnixMs: Int64) -> Bool {
        nowUnixMs - HybridClock.unixMs(of: version) > Int64(graceMs) + Int64(skewMs)
    }

    /// Whether data last alive at `lastAliveUnixMs` is too old to serve.
    package func isStale(lastAliveUnixMs: Int64, nowUnixMs: Int64) -> Bool {
        nowUnixMs - lastAliveUnixMs > Int64(graceMs)
    }

    /// Whether repair skips a peer's tombstone of `version` for a key this node holds nothing of.
    package func skipsRepair(ofTombstone version: UInt64, nowUnixMs: Int64) -> Bool {
        nowUnixMs - HybridClock.unixMs(of: version) >= Int64(graceMs)
    }
}
