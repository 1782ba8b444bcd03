// Stable hashes: the same in every process, machine and release (Swift's Hasher is seeded per
// process, so it cannot place keys). FNV-1a 64 over the bytes, finished with MurmurHash3's
// fmix64 so that similar names land far apart. Known-answer tests pin both (HashRingTests).

/// FNV-1a, 64-bit: a stable hash (unlike Swift's seeded `Hasher`).
package enum FNV1a {
    static func hash64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

package enum StableHash {
    package static func hash(_ bytes: [UInt8]) -> UInt64 { mix(FNV1a.hash64(bytes)) }

    /// MurmurHash3 fmix64: every input bit affects every output bit.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x = x &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x = x &* 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }
}
