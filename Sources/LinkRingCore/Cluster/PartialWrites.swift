// The keys this proxy acknowledged a write of while some replica had not (yet) acknowledged it,
// with that write's version: the read floor of each such key. A write settles once one replica
// made it durable and the others are late, failed or down (docs/DECISIONS.md "Slow and frozen
// nodes"); until the others catch up (their late reply, a restarted node's recovery pull, the
// periodic repair), a replica answering with an older version is behind and must not answer
// alone. The proxy asks the next replica instead, so a read never returns less than what the
// client was told is stored.
//
//   write acked, replica missing ─▶ note(key, version)            (floor = the higher version)
//   every missing replica acks   ─▶ caughtUp(key, version)        (floor dropped when still it)
//   read                         ─▶ floor(of: key) ─▶ answers below it are behind
//   each entry expires after Limits.partialWriteFloorMs; past Limits.partialWriteFloorsMax
//   keys (or twice as many queued entries) the oldest is dropped first (counted in `dropped`)
//
// One proxy's memory: a read through another proxy does not see it (docs/DECISIONS.md).

package struct PartialWrites {
    private var floors: [[UInt8]: UInt64] = [:]
    /// Keys in the order they were noted, with the version and the time each entry expires.
    private var expiries = FIFOQueue<(key: [UInt8], version: UInt64, expiresMs: UInt64)>()
    private let capacity: Int
    private let lifetimeMs: UInt64
    /// Entries dropped before they expired because the table was full.
    package private(set) var dropped: UInt64 = 0

    package init(capacity: Int = Limits.partialWriteFloorsMax, lifetimeMs: UInt64 = Limits.partialWriteFloorMs) {
        self.capacity = capacity
        self.lifetimeMs = lifetimeMs
    }

    package var isEmpty: Bool { floors.isEmpty }
    package var count: Int { floors.count }
    /// Entries queued for expiry, superseded ones included (at most twice the capacity).
    package var queued: Int { expiries.count }

    /// The version a read of `key` must reach, if a write of it was acknowledged partially.
    package func floor(of key: [UInt8]) -> UInt64? { floors.isEmpty ? nil : floors[key] }

    /// A write of `key` at `version` was acknowledged while some replica did not acknowledge it.
    package mutating func note(_ key: [UInt8], version: UInt64, nowMs: UInt64) {
        expire(nowMs: nowMs)
        if let known = floors[key], known >= version { return }
        if floors[key] == nil {
            while floors.count >= capacity, !expiries.isEmpty { popOldest() }
        }
        // Superseded entries stay queued until they expire: the queue is bounded too.
        while expiries.count >= 2 * capacity { popOldest() }
        floors[key] = version
        expiries.append((key, version, nowMs + lifetimeMs))
    }

    /// Every replica that had missed the write of `key` at `version` now acknowledged it.
    package mutating func caughtUp(_ key: [UInt8], version: UInt64) {
        if floors[key] == version { floors[key] = nil }
    }

    /// Drops the entries whose time is over.
    package mutating func expire(nowMs: UInt64) {
        while let oldest = expiries.first, oldest.expiresMs <= nowMs {
            expiries.popFirst()
            if floors[oldest.key] == oldest.version { floors[oldest.key] = nil }
        }
    }

    /// Drops the oldest queued entry before its time (its floor too, if still current).
    private mutating func popOldest() {
        guard let oldest = expiries.popFirst() else { return }
        if floors[oldest.key] == oldest.version {
            floors[oldest.key] = nil
            dropped += 1
        }
    }
}
