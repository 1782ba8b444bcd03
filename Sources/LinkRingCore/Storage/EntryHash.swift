// A key range's digest is the XOR of one EntryHash per entry: O(1) to update on every change,
// independent of arrival order, and it sees key, version and content (VersionOrder's
// tie-break), so two replicas that differ in any of them have different digests.
//
// It is computed from what the index keeps in RAM (KeyValueIndex.swift): the key's
// fingerprint (its StableHash), the version, and the top 32 bits of the tie-break (all ones
// for a tombstone). Two values under one version then differ in the digest unless their
// tie-breaks agree in 32 bits (2^-32); the key pages, which carry the whole tie-break, settle it.

package enum EntryHash {
    package static func of(fingerprint: UInt64, version: UInt64, tieBreakHigh: UInt32) -> UInt64 {
        StableHash.mix(fingerprint ^ (version &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(tieBreakHigh))
    }

    /// The contribution of one entry to its range's digest.
    package static func of(_ key: [UInt8], _ stored: StoredValue) -> UInt64 {
        of(fingerprint: StableHash.hash(key), version: stored.version, tieBreakHigh: UInt32(truncatingIfNeeded: stored.tieBreak >> 32))
    }
}
