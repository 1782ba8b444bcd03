// A key range's digest is the XOR of one EntryHash per entry: O(1) to update on every change,
// independent of arrival order, and it sees key, version and content (VersionOrder's
// tie-break), so two replicas that differ in any of them have different digests.

package enum EntryHash {
    /// The contribution of one entry to its range's digest: its key, version and content, so
    /// two replicas holding different values under one version differ.
    package static func of(_ key: [UInt8], _ stored: StoredValue) -> UInt64 {
        StableHash.mix(StableHash.hash(key) ^ (stored.version &* 0x9E37_79B9_7F4A_7C15) ^ stored.tieBreak)
    }
}
