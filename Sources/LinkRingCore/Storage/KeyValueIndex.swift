// The in-memory index of a node: per key, the value with the highest version (a
// last-writer-wins register). A delete is a tombstone with its version, so an older PUT that
// arrives later (replication, replay, repair) can never resurrect the key. Applying the same
// record twice, or records in any order, gives the same index; two records with the same
// version are ordered by VersionOrder's tie-break on their content. A `forget` record turns
// the entry it names (by version) into a version-0 tombstone, which any write supersedes.
//
// For log compaction the index also keeps every key in arrival order (keys are never removed,
// so an offset is a stable cursor while writes go on) and the bytes its records would take in
// a log (`recordBytes`), so the node knows when the log has grown well past its data.
//
// With a ring attached (`partition(by:)`), the index also keeps, per key range of the ring:
//   - a digest: the XOR of EntryHash(key, version, content) over the range's keys, updated in O(1) on
//     every change, so two replicas compare a range by comparing one number;
//   - the range's keys in arrival order. Keys are never removed (tombstones stay), so a list
//     only grows and an offset into it is a stable cursor for paging through a range.

package struct StoredValue: Sendable, Equatable {
    package var version: UInt64
    /// Nil for a tombstone.
    package var value: [UInt8]?

    package init(version: UInt64, value: [UInt8]?) {
        self.version = version
        self.value = value
    }

    /// Whether this entry beats `other` (VersionOrder): a higher version, or the tie-break.
    @inline(__always)
    package func isNewer(than other: StoredValue) -> Bool {
        VersionOrder.isNewer(version, value, than: other.version, other.value)
    }

    var tieBreak: UInt64 { VersionOrder.tieBreak(value: value) }

    /// The entry a record leaves (a forget's is a version-0 tombstone).
    package init(_ record: LogRecord) {
        self.init(version: record.op == .forget ? 0 : record.version, value: record.op == .put ? record.value : nil)
    }
}

package struct KeyValueIndex: Sendable {
    package private(set) var entries: [[UInt8]: StoredValue] = [:]
    package private(set) var liveKeys = 0
    package private(set) var tombstones = 0
    /// Every key, in the order it first arrived.
    package private(set) var keysInArrivalOrder: [[UInt8]] = []
    /// Bytes of the log records that reproduce the index (one per key, tombstones included).
    package private(set) var recordBytes = 0
    package private(set) var ring: HashRing? = nil
    /// Per key range: the digest, and the keys in arrival order.
    package private(set) var digests: [UInt64] = []
    package private(set) var rangeKeys: [[[UInt8]]] = []

    package init() {}

    package func lookup(_ key: [UInt8]) -> StoredValue? { entries[key] }

    /// Attaches a ring: from now on digests and key lists are kept per range. Indexes the
    /// keys already present (once, after replay).
    package mutating func partition(by ring: HashRing) {
        self.ring = ring
        digests = [UInt64](repeating: 0, count: ring.rangeCount)
        rangeKeys = [[[UInt8]]](repeating: [], count: ring.rangeCount)
        for (key, stored) in entries {
            let range = ring.rangeIndex(forKey: key)
            digests[range] ^= EntryHash.of(key, stored)
            rangeKeys[range].append(key)
        }
    }

    /// Keeps `incoming` if it is newer than what the key has; returns whether it was kept.
    /// One hash lookup in the common case (a new key or a newer version); an older version,
    /// which is rare, is swapped back.
    @discardableResult
    package mutating func apply(key: [UInt8], _ incoming: StoredValue) -> Bool {
        guard let previous = entries.updateValue(incoming, forKey: key) else {
            count(incoming, sign: 1)
            keysInArrivalOrder.append(key)
            recordBytes += Self.recordBytes(key: key, incoming)
            if let ring {
                let range = ring.rangeIndex(forKey: key)
                digests[range] ^= EntryHash.of(key, incoming)
                rangeKeys[range].append(key)
            }
            return true
        }
        guard incoming.isNewer(than: previous) else {
            entries[key] = previous
            return false
        }
        replaced(key, previous, with: incoming)
        return true
    }

    package mutating func apply(_ record: LogRecord) {
        switch record.op {
        case .put, .delete: apply(key: record.key, StoredValue(record))
        case .forget: forget(key: record.key, version: record.version)
        }
    }

    /// Turns `key`'s entry into a version-0 tombstone if it still has `version`.
    package mutating func forget(key: [UInt8], version: UInt64) {
        guard let previous = entries[key], previous.version == version, version != 0 else { return }
        let forgotten = StoredValue(version: 0, value: nil)
        entries[key] = forgotten
        replaced(key, previous, with: forgotten)
    }

    /// Counts, record bytes and digest after `key`'s entry changed from `previous` to `current`.
    private mutating func replaced(_ key: [UInt8], _ previous: StoredValue, with current: StoredValue) {
        count(previous, sign: -1)
        count(current, sign: 1)
        recordBytes += Self.recordBytes(key: key, current) - Self.recordBytes(key: key, previous)
        if let ring {
            let range = ring.rangeIndex(forKey: key)
            digests[range] ^= EntryHash.of(key, previous) ^ EntryHash.of(key, current)
        }
    }

    /// Makes room for about `keys` keys at once (replay knows roughly how many are coming).
    package mutating func reserveCapacity(_ keys: Int) {
        entries.reserveCapacity(keys)
        keysInArrivalOrder.reserveCapacity(keys)
    }

    /// The record that reproduces `key`'s entry (for sending it to a peer).
    package func record(for key: [UInt8]) -> LogRecord? {
        guard let stored = entries[key] else { return nil }
        return LogRecord(version: stored.version, op: stored.value == nil ? .delete : .put, key: key, value: stored.value ?? [])
    }

    private static func recordBytes(key: [UInt8], _ stored: StoredValue) -> Int {
        LogRecord.encodedBytes(keyBytes: key.count, valueBytes: stored.value?.count ?? 0)
    }

    private mutating func count(_ value: StoredValue, sign: Int) {
        if value.value == nil { tombstones += sign } else { liveKeys += sign }
    }
}
