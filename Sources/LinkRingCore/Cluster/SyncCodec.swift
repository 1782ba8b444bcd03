// The bodies of the node-to-node repair routes (docs/PROTOCOL.md), binary and little-endian:
//
//   GET /_/digests            → ring id u64, then one digest u64 per key range
//   GET /_/keys?r=R&from=F    → next u32 (0xFFFFFFFF at the end), then, in key-hash order
//                               from the hashes whose top 32 bits are F,
//                               (keyBytes u16, version u64, tieBreak u64, key)*
//   POST /_/records  body (keyBytes u16, key)*  → the records, encoded exactly as in the log (CRC each)
//
// The ring id is a hash of the ring's points and replica count and of `protocolVersion`: two
// nodes whose hosts file, vnodes or replicas differ, or that speak different versions of these
// bodies, have different ids, and repair between them is refused.
//
// The tie-break (VersionOrder) travels with each version so that a node can tell that a peer
// holds a different value under the same version, and which of the two every replica keeps.

package enum SyncCodec {
    package static let endOfRange: UInt32 = 0xFFFF_FFFF

    /// Version of these bodies: 2 added the tie-break to key pages; 3 made the page cursor
    /// the top 32 bits of a key's hash (pages in hash order) and digests of (hash, version,
    /// tie-break's top 32 bits), as the compact index keeps them.
    static let protocolVersion: UInt64 = 3

    package static func ringID(_ ring: HashRing) -> UInt64 {
        var hash = StableHash.mix(UInt64(ring.replicaCount) ^ protocolVersion << 32)
        for point in ring.points { hash = StableHash.mix(hash ^ point) }
        return hash
    }

    /// Bytes of a /_/digests answer for a ring of `rangeCount` key ranges.
    static func digestsBytes(rangeCount: Int) -> Int { 8 * (rangeCount + 1) }

    package static func encodeDigests(ringID: UInt64, _ digests: [UInt64]) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(8 * (digests.count + 1))
        LittleEndian.append(ringID, bytes: 8, to: &body)
        for digest in digests { LittleEndian.append(digest, bytes: 8, to: &body) }
        return body
    }

    /// Nil when the body is malformed or from a different ring.
    package static func decodeDigests(_ body: [UInt8], ringID: UInt64, rangeCount: Int) -> [UInt64]? {
        guard body.count == 8 * (rangeCount + 1), LittleEndian.read(body, at: 0, bytes: 8) == ringID else { return nil }
        return (0..<rangeCount).map { LittleEndian.read(body, at: 8 * ($0 + 1), bytes: 8) }
    }

    package struct KeyVersion: Sendable, Equatable {
        package var key: [UInt8]
        package var version: UInt64
        /// VersionOrder's tie-break of the entry's content (all ones: a tombstone).
        package var tieBreak: UInt64

        package init(key: [UInt8], version: UInt64, tieBreak: UInt64) {
            self.key = key
            self.version = version
            self.tieBreak = tieBreak
        }

        package init(key: [UInt8], _ stored: StoredValue) {
            self.init(key: key, version: stored.version, tieBreak: stored.tieBreak)
        }
    }

    /// Bytes of a key page entry before its key.
    static let keyEntryHeaderBytes = 18

    package static func encodeKeysPage(next: UInt32, _ entries: [KeyVersion]) -> [UInt8] {
        var body: [UInt8] = []
        LittleEndian.append(UInt64(next), bytes: 4, to: &body)
        for entry in entries {
            LittleEndian.append(UInt64(entry.key.count), bytes: 2, to: &body)
            LittleEndian.append(entry.version, bytes: 8, to: &body)
            LittleEndian.append(entry.tieBreak, bytes: 8, to: &body)
            body += entry.key
        }
        return body
    }

    package static func decodeKeysPage(_ body: [UInt8]) -> (next: UInt32, entries: [KeyVersion])? {
        guard body.count >= 4 else { return nil }
        let next = UInt32(LittleEndian.read(body, at: 0, bytes: 4))
        var entries: [KeyVersion] = []
        var offset = 4
        let header = keyEntryHeaderBytes
        while offset < body.count {
            guard body.count - offset >= header else { return nil }
            let length = Int(LittleEndian.read(body, at: offset, bytes: 2))
            let version = LittleEndian.read(body, at: offset + 2, bytes: 8)
            let tieBreak = LittleEndian.read(body, at: offset + 10, bytes: 8)
            guard length > 0, body.count - offset - header >= length else { return nil }
            entries.append(KeyVersion(key: Array(body[offset + header..<offset + header + length]), version: version, tieBreak: tieBreak))
            offset += header + length
        }
        return (next, entries)
    }

    package static func encodeKeys(_ keys: [[UInt8]]) -> [UInt8] {
        var body: [UInt8] = []
        for key in keys {
            LittleEndian.append(UInt64(key.count), bytes: 2, to: &body)
            body += key
        }
        return body
    }

    package static func decodeKeys(_ buffer: [UInt8], _ range: Range<Int>) -> [[UInt8]]? {
        var keys: [[UInt8]] = []
        var offset = range.lowerBound
        while offset < range.upperBound {
            guard range.upperBound - offset >= 2 else { return nil }
            let length = Int(LittleEndian.read(buffer, at: offset, bytes: 2))
            guard length > 0, range.upperBound - offset - 2 >= length else { return nil }
            keys.append(Array(buffer[offset + 2..<offset + 2 + length]))
            offset += 2 + length
        }
        return keys
    }

    package static func decodeRecords(_ body: [UInt8]) -> [LogRecord]? {
        var records: [LogRecord] = []
        var offset = 0
        while offset < body.count {
            guard case .record(let record, let next) = LogRecord.decode(body, at: offset) else { return nil }
            records.append(record)
            offset = next
        }
        return records
    }

    /// What a node asks a peer for after reading one of its key pages.
    package struct PageDiff: Sendable, Equatable {
        /// Keys this node lacks or holds older (VersionOrder).
        package var wanted: [[UInt8]] = []
        /// Keys the peer holds at a version too far ahead of this node's clock: not fetched.
        package var refused: [[UInt8]] = []
    }

    /// The keys of `page` that `index` lacks or holds older, unless the peer's version is
    /// more than `skew` ahead of the wall clock. An entry here that is itself that far ahead
    /// counts as older than any acceptable one (VersionRules.swift).
    package static func diff(_ page: [KeyVersion], against index: KeyValueIndex, skew: VersionSkew, wallClockUnixMs: Int64) -> PageDiff {
        var diff = PageDiff()
        for entry in page {
            guard skew.accepts(entry.version, wallClockUnixMs: wallClockUnixMs) else {
                if index.lookup(entry.key)?.version != entry.version { diff.refused.append(entry.key) }
                continue
            }
            guard let mine = index.lookup(entry.key) else {
                diff.wanted.append(entry.key)
                continue
            }
            let isNewer = VersionOrder.isNewer(entry.version, tieBreak: entry.tieBreak, than: mine.version, tieBreak: mine.tieBreak)
            if isNewer || !skew.accepts(mine.version, wallClockUnixMs: wallClockUnixMs) { diff.wanted.append(entry.key) }
        }
        return diff
    }
}
