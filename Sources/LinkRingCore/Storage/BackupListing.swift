// Backups of a node's data directory (docs/DECISIONS.md, "Backups while serving"): which files
// a snapshot holds and how long each is, the text both the snapshot and the finished backup
// describe themselves in, and when a backup may still be restored into a running cluster.
//
//   running node, on SIGUSR1: every name of DATA ─▶ `BackupSnapshotRule.length` ─▶ hard link
//      into DATA/backup-snapshot.ID (sealed segments, hint, node-id, membership whole; the
//      active segment up to its committed bytes; a segment a roll-over just made, and
//      everything else, left out) ─▶ DATA/backup-snapshot.ID/SNAPSHOT (kind .snapshot)
//   `linkring-node backup`: each listed file's first BYTES copied to DEST with its CRC32C ─▶
//      DEST/MANIFEST (kind .backup) written last: a backup without one is incomplete
//   `linkring-node restore`: MANIFEST parsed, each file's size and CRC32C checked while copied
//
// The text, one item per line, names and numbers only (a file name never holds a space or a
// slash: they are the node's own names):
//
//   linkring-backup 1                          (linkring-snapshot 1 in a snapshot)
//   taken-unix-ms 1764190000000                when the node took the snapshot (its wall clock)
//   file linkring-0000000001.log 1234 crc32c=0a1b2c3d   (no crc32c= in a snapshot)
//   end 3                                      the number of files: a listing cut anywhere is refused
//
// Unknown lines are refused, not skipped: a manifest this release cannot read in full is not
// one it can restore.

package struct BackupListing: Equatable, Sendable {
    package enum Kind: String, Sendable {
        /// What a running node lists in its snapshot directory: names and lengths.
        case snapshot = "linkring-snapshot"
        /// A finished backup's MANIFEST: names, lengths and checksums.
        case backup = "linkring-backup"
    }

    package struct File: Equatable, Sendable {
        package var name: String
        package var bytes: Int
        /// The CRC32C of the file's `bytes` (a backup only).
        package var crc: UInt32?

        package init(name: String, bytes: Int, crc: UInt32? = nil) {
            self.name = name
            self.bytes = bytes
            self.crc = crc
        }
    }

    package static let formatVersion = 1
    /// The name of a finished backup's listing, and of a snapshot's.
    package static let manifestName = "MANIFEST"
    package static let snapshotName = "SNAPSHOT"

    package var kind: Kind
    package var takenUnixMs: Int64
    package var files: [File]

    package init(kind: Kind, takenUnixMs: Int64, files: [File]) {
        self.kind = kind
        self.takenUnixMs = takenUnixMs
        self.files = files
    }

    package func encode() -> String {
        var text = "\(kind.rawValue) \(Self.formatVersion)\ntaken-unix-ms \(takenUnixMs)\n"
        for file in files {
            text += "file \(file.name) \(file.bytes)"
            if let crc = file.crc { text += " crc32c=" + Self.hex(crc) }
            text += "\n"
        }
        return text + "end \(files.count)\n"
    }

    /// The listing in `text`, which must be of `kind`; the error names the line and what is wrong.
    package static func parse(_ text: String, kind: Kind) throws(BackupListingError) -> BackupListing {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let header = lines.first else { throw BackupListingError(line: 1, "empty, expected '\(kind.rawValue) \(formatVersion)'") }
        guard header == "\(kind.rawValue) \(formatVersion)" else {
            throw BackupListingError(line: 1, "'\(header)' is not '\(kind.rawValue) \(formatVersion)' (another kind of file, or another release's format)")
        }
        guard let end = lines.last, lines.count >= 3, end.hasPrefix("end "), let count = Int(end.dropFirst(4)) else {
            throw BackupListingError(line: lines.count, "no 'end N' last line: the listing is cut short")
        }
        guard count == lines.count - 3 else { throw BackupListingError(line: lines.count, "'\(end)' but \(lines.count - 3) lines before it") }
        var taken: Int64?
        var files: [File] = []
        for (position, line) in lines.enumerated().dropFirst().dropLast() {
            let words = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            switch words.first {
            case "taken-unix-ms" where words.count == 2 && taken == nil:
                guard let value = Int64(words[1]), value >= 0 else { throw BackupListingError(line: position + 1, "'\(words[1])' is not a time in ms") }
                taken = value
            case "file":
                let file = try parseFile(words, kind: kind, line: position + 1)
                guard !files.contains(where: { $0.name == file.name }) else { throw BackupListingError(line: position + 1, "\(file.name) listed twice") }
                files.append(file)
            default:
                throw BackupListingError(line: position + 1, "'\(line)' is not a line of a \(kind.rawValue) listing")
            }
        }
        guard let taken else { throw BackupListingError(line: lines.count, "no taken-unix-ms line") }
        return BackupListing(kind: kind, takenUnixMs: taken, files: files)
    }

    private static func parseFile(_ words: [String], kind: Kind, line: Int) throws(BackupListingError) -> File {
        let expected = kind == .backup ? 4 : 3
        guard words.count == expected else {
            throw BackupListingError(line: line, "a file line is 'file NAME BYTES\(kind == .backup ? " crc32c=HEX" : "")'")
        }
        let name = words[1]
        guard isPlainName(name) else { throw BackupListingError(line: line, "'\(name)' is not a plain file name") }
        guard let bytes = Int(words[2]), bytes >= 0 else { throw BackupListingError(line: line, "'\(words[2])' is not a byte count") }
        guard kind == .backup else { return File(name: name, bytes: bytes) }
        guard words[3].hasPrefix("crc32c="), words[3].utf8.count == 15, let crc = UInt32(words[3].dropFirst(7), radix: 16) else {
            throw BackupListingError(line: line, "'\(words[3])' is not crc32c= and 8 hex digits")
        }
        return File(name: name, bytes: bytes, crc: crc)
    }

    /// A name inside one directory: no slash, not `.` or `..`, no control characters or spaces.
    package static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

package struct BackupListingError: Error, CustomStringConvertible, Equatable {
    package let line: Int
    package let reason: String

    package init(line: Int, _ reason: String) {
        self.line = line
        self.reason = reason
    }

    package var description: String { "line \(line): \(reason)" }
}

/// Which files of a data directory a snapshot holds, and how many bytes of each: the committed
/// offset rule. Every write acknowledged before the snapshot is in a sealed segment or in the
/// active one before `committedBytes` (a batch is answered only once its append completed, and
/// the file's size counts only completed appends); bytes past it may be half a batch.
package enum BackupSnapshotRule {
    package enum Length: Equatable, Sendable {
        case whole
        case prefix(Int)
        case skip
    }

    /// The small files that travel with the segments: the index hint (start-up without a full
    /// replay; ignored when it does not describe the segments), the data's id and its membership.
    package static let companionNames = ["linkring.hint", "node-id", "membership"]

    /// How much of the file `name` a snapshot takes while segment `activeSequence` is appended to.
    package static func length(of name: String, activeSequence: UInt32, committedBytes: Int) -> Length {
        if let sequence = SegmentLayout.sequence(ofFileName: name) {
            if sequence < activeSequence { return .whole }  // sealed: immutable (compaction replaces it by rename)
            // A newer one is a roll-over's fresh file: only its header, or records after the snapshot.
            return sequence == activeSequence ? .prefix(committedBytes) : .skip
        }
        return companionNames.contains(name) ? .whole : .skip
    }
}

extension TombstoneRules {
    /// Whether a backup taken at `takenUnixMs` may be restored into one node of a running
    /// cluster: its peers collect a tombstone only `graceMs` after it was written, so one written
    /// after the backup is still there for repair to bring, if the node catches up in time. A
    /// tenth of the grace period is kept for that (a day of the default 10).
    package func isRestorable(takenUnixMs: Int64, nowUnixMs: Int64) -> Bool {
        nowUnixMs - takenUnixMs <= Int64(graceMs - graceMs / Limits.restoreGraceMarginDivisor)
    }
}
