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
// bits, so ties break deterministically.

public struct HybridClock: Sendable {
    public static let epochUnixMs: Int64 = 1_577_836_800_000
    public static let counterBits: UInt64 = 12
    public static let originBits: UInt64 = 10
    public static let originsMax: UInt64 = 1 << originBits

    public let origin: UInt64
    private var lastMs: UInt64 = 0
    private var counter: UInt64 = 0

    public init(origin: UInt64) {
        precondition(origin < Self.originsMax, "origin must be below \(Self.originsMax)")
        self.origin = origin
    }

    /// A version greater than every version this clock has minted or observed.
    public mutating func next(wallClockUnixMs: Int64) -> UInt64 {
        let wallMs = UInt64(max(0, wallClockUnixMs - Self.epochUnixMs))
        if wallMs > lastMs {
            lastMs = wallMs
            counter = 0
        } else {
            counter += 1
            if counter >> Self.counterBits != 0 {
                lastMs += 1
                counter = 0
            }
        }
        return lastMs << (Self.counterBits + Self.originBits) | counter << Self.originBits | origin
    }

    /// Moves the clock so that the next version is greater than `version`.
    public mutating func observe(_ version: UInt64) {
        let parts = Self.split(version)
        if parts.ms > lastMs || (parts.ms == lastMs && parts.counter > counter) {
            lastMs = parts.ms
            counter = parts.counter
        }
    }

    public static func split(_ version: UInt64) -> (ms: UInt64, counter: UInt64, origin: UInt64) {
        (version >> (counterBits + originBits),
         (version >> originBits) & ((1 << counterBits) - 1),
         version & (originsMax - 1))
    }

    /// Unix milliseconds of a version's time part.
    public static func unixMs(of version: UInt64) -> Int64 {
        Int64(split(version).ms) + epochUnixMs
    }

    /// A stable origin from a name (for example a listen address), when none is configured.
    public static func origin(forName name: String) -> UInt64 {
        UInt64(FNV1a.hash64(Array(name.utf8)) % originsMax)
    }
}

/// FNV-1a, 64-bit: a stable hash (unlike Swift's seeded `Hasher`).
public enum FNV1a {
    public static func hash64(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
