// The names of a node's log files, and which segment a compaction rewrites next.
//
//   DATA/linkring-0000000001.log   segments, oldest first by sequence number; each is a log file
//   DATA/linkring-0000000002.log   ("LINKRNG1" then records, LogRecord.swift); the highest is the
//   …                              active one (appended to), the others are sealed (immutable
//                                  but for a compaction's atomic rewrite under the same name)
//   DATA/linkring-0000000001.log.compact   a rewrite in progress (a crash leaves it: removed)
//   DATA/linkring.log              the single log of earlier releases: start-up renames it to
//                                  segment 1 (the format is the same), or refuses if segments
//                                  exist beside it
//
// Replay reads the segments in sequence order. A compaction keeps a segment's place in that
// order (it rewrites one segment under its own name), so the order of records that depend on
// it (a forget after the put it undoes) never changes.
//
// Choosing the segment (`CompactionPolicy.choose`): once the whole log is past the policy's
// size and ratio, the sealed segment with the most reclaimable bytes (its bytes minus its
// live records minus what its last rewrite had to keep) is rewritten; when the active segment
// has more, it is sealed first (rolled over), and rewritten at the next check.

package enum SegmentLayout {
    /// The single log file of releases before segments.
    package static let legacyLogName = "linkring.log"
    package static let compactingSuffix = ".compact"
    static let prefix = "linkring-"
    static let suffix = ".log"
    static let digits = 10

    /// The file name of segment `sequence`.
    package static func fileName(_ sequence: UInt32) -> String {
        let number = String(sequence)
        return prefix + String(repeating: "0", count: max(0, digits - number.count)) + number + suffix
    }

    /// The sequence number a segment file's name carries, or nil for any other name.
    package static func sequence(ofFileName name: String) -> UInt32? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let number = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard number.count == digits, number.allSatisfy({ $0 >= "0" && $0 <= "9" }), let value = UInt32(number), value > 0 else { return nil }
        return value
    }
}

/// What a compaction check decides.
package enum CompactionChoice: Equatable, Sendable {
    case nothing
    /// Rewrite this sealed segment (an index id).
    case rewrite(UInt16)
    /// Seal the active segment: it holds the most reclaimable bytes.
    case sealActive
}

/// A segment as the compaction check sees it.
package struct SegmentUsage: Equatable, Sendable {
    package var id: UInt16
    package var bytes: Int
    /// Bytes of the records the index points at in it.
    package var liveBytes: Int
    /// Bytes its last rewrite had to keep although no entry points at them (tombstones and
    /// forgets that still shadow a record in an older segment).
    package var keptBytes: Int

    package init(id: UInt16, bytes: Int, liveBytes: Int, keptBytes: Int = 0) {
        self.id = id
        self.bytes = bytes
        self.liveBytes = liveBytes
        self.keptBytes = keptBytes
    }

    /// Bytes a rewrite would give back (at least).
    package var reclaimableBytes: Int { max(0, bytes - LogRecord.fileMagic.count - liveBytes - keptBytes) }
}

extension CompactionPolicy {
    /// Which segment to rewrite, given the sealed ones and the active one (see the file comment).
    package func choose(sealed: [SegmentUsage], active: SegmentUsage) -> CompactionChoice {
        let all = sealed + [active]
        let logBytes = all.reduce(0) { $0 + $1.bytes }
        let recordBytes = all.reduce(0) { $0 + $1.liveBytes }
        guard shouldCompact(logBytes: logBytes, recordBytes: recordBytes) else { return .nothing }
        let best = sealed.max { $0.reclaimableBytes < $1.reclaimableBytes }
        if active.reclaimableBytes > (best?.reclaimableBytes ?? 0) { return .sealActive }
        guard let best, best.reclaimableBytes > 0 else { return .nothing }
        return .rewrite(best.id)
    }
}

/// What a compaction does with one record of the segment it rewrites (LogCompactor.swift).
package enum SiftDecision: Equatable, Sendable {
    /// Its key's entry points at it: copied, and the entry follows it.
    case keep
    /// Its key's entry points at it and it is a forget in the oldest segment: written as the
    /// version-0 delete the entry is (no older segment holds the version it names).
    case keepAsDelete
    /// No entry points at it, but it may shadow a record of an older segment (a forget, or a
    /// tombstone the collector removed from the index): copied, no entry follows it.
    case keepShadowing
    case drop

    /// `isCurrent`: the key's entry is this record; `keyHasEntry`: the key has an entry at all
    /// (a newer one, which beats whatever a dropped tombstone shadowed); `isOldest`: no segment
    /// is older than this one.
    package static func of(_ op: LogOp, isCurrent: Bool, keyHasEntry: Bool, isOldest: Bool) -> SiftDecision {
        if isCurrent { return op == .forget && isOldest ? .keepAsDelete : .keep }
        guard !isOldest else { return .drop }
        switch op {
        case .forget: return .keepShadowing
        case .delete: return keyHasEntry ? .drop : .keepShadowing
        case .put: return .drop
        }
    }
}
