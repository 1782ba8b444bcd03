// Tombstone collection: the rules (older than the grace period AND every replica's digest
// matched since it was written, past the clock-skew bound), a data directory too old to serve,
// and the index's sweep, which drops entries with backward-shift deletion: every other entry,
// colliding ones included, stays reachable and the digests stay exact.

import Testing
@testable import LinkRingCore

@Suite("Tombstone collection")
struct TombstoneTests {
    let nowUnixMs: Int64 = 1_800_000_000_000
    let rules = TombstoneRules(graceMs: 10_000, skewMs: 1_000)

    func version(atUnixMs unixMs: Int64) -> UInt64 {
        var clock = HybridClock(origin: 1)
        return clock.next(wallClockUnixMs: unixMs)
    }

    @Test("a tombstone is kept while any replica may hold an older value")
    func keptWhileAReplicaMayHoldOlder() {
        let old = version(atUnixMs: nowUnixMs - 20_000)
        let young = version(atUnixMs: nowUnixMs - 5_000)
        #expect(rules.isCollectible(version: old, rangeConfirmedUnixMs: nowUnixMs - 1_000, nowUnixMs: nowUnixMs))
        #expect(!rules.isCollectible(version: young, rangeConfirmedUnixMs: nowUnixMs, nowUnixMs: nowUnixMs), "within the grace period")
        #expect(!rules.isCollectible(version: old, rangeConfirmedUnixMs: nil, nowUnixMs: nowUnixMs), "a replica never matched")
        #expect(!rules.isCollectible(version: old, rangeConfirmedUnixMs: nowUnixMs - 20_000 + 500, nowUnixMs: nowUnixMs),
                "matched before it was written (within the skew bound)")
        #expect(rules.isCollectible(version: old, rangeConfirmedUnixMs: Int64.max, nowUnixMs: nowUnixMs), "no other replica")
    }

    @Test("data last alive longer ago than the grace period is stale")
    func staleData() {
        #expect(rules.isStale(lastAliveUnixMs: nowUnixMs - 10_001, nowUnixMs: nowUnixMs))
        #expect(!rules.isStale(lastAliveUnixMs: nowUnixMs - 10_000, nowUnixMs: nowUnixMs))
        #expect(rules.skipsRepair(ofTombstone: version(atUnixMs: nowUnixMs - 10_000), nowUnixMs: nowUnixMs))
        #expect(!rules.skipsRepair(ofTombstone: version(atUnixMs: nowUnixMs - 9_000), nowUnixMs: nowUnixMs))
    }

    @Test("a sweep drops the tombstones it is told to; every other key stays reachable, digests exact", arguments: [1, 3, 1_000_000])
    func sweepKeepsTheRest(distinctFingerprints: UInt64) {
        let ring = HashRing(nodes: [HostPort(host: "a", port: 1)], vnodesPerNode: 4, replicas: 1)
        let index = KeyValueIndex(source: RecordsInMemory(), fingerprint: { StableHash.hash($0) % distinctFingerprints })
        index.partition(by: ring)
        for key in 0..<500 {
            index.apply(LogRecord(version: 10, op: .put, key: Array("k\(key)".utf8), value: Array("http://v/\(key)".utf8)))
        }
        for key in stride(from: 0, to: 500, by: 2) { index.apply(LogRecord(version: 20, op: .delete, key: Array("k\(key)".utf8))) }
        for key in stride(from: 1, to: 500, by: 10) { index.apply(LogRecord(version: 20, op: .delete, key: Array("k\(key)".utf8))) }
        var cursor = 0
        var removed = 0
        for _ in 0..<(index.capacity / 100 + 2) {
            let swept = index.sweep(from: cursor, limit: 100) { $0.isTombstone && $0.version == 20 && $0.offset % 3 != 0 }
            cursor = swept.next
            removed += swept.removed
        }
        #expect(removed > 0 && index.count == 500 - removed)
        #expect(index.tombstones == 300 - removed && index.liveKeys == 200)
        for key in 0..<500 {
            let stored = index.lookup(Array("k\(key)".utf8))
            if key % 2 == 0 || key % 10 == 1 {
                #expect(stored == nil || stored == StoredValue(version: 20, value: nil), "k\(key)")
            } else {
                #expect(stored == StoredValue(version: 10, value: Array("http://v/\(key)".utf8)), "k\(key)")
            }
        }
        var expected = [UInt64](repeating: 0, count: ring.rangeCount)
        index.forEachEntry { expected[Int($0.range)] ^= EntryHash.of(fingerprint: $0.fingerprint, version: $0.version, tieBreakHigh: $0.tieBreakHigh) }
        #expect(index.digests == expected)
    }
}
