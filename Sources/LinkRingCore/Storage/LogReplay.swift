// Replay of a log file into an index, telling a torn tail from corruption. The file is read
// in chunks (`Limits.replayChunkBytes`, ReplayWindow): start-up holds one chunk and the index,
// never the whole log, so its peak memory does not grow with the log's history.
//
//   - A record that runs past the end of the file, or any bad bytes, after which no valid record
//     follows, is a TORN TAIL: the crash happened mid-append (or the filesystem grew the file
//     with zeros). Replay stops there; the caller truncates the file to `validBytes` and warns.
//     A record that SEEMS to run past the end (a damaged length field) but is followed by a
//     valid record is corruption, below: truncating there would delete every record after it.
//   - In the active segment (`lostPageEndsLog`), bad bytes with a whole page-aligned page of
//     zeros before the next valid record are a torn tail as well: a batch written into
//     preallocated zeros whose write-back a machine crash cut (`isLostPage`).
//   - Bad bytes FOLLOWED by a valid record are CORRUPTION in the middle: replay refuses, naming
//     the byte offset, unless `skipCorrupt` is set; then it skips to the next valid record and
//     reports every skipped range (as Redis's aof-load-truncated, but for the middle).

package struct ReplayReport: Sendable, Equatable {
    package var records = 0
    /// The length of the file up to the end of the last record kept.
    package var validBytes = 0
    /// The torn tail that was cut off, if any.
    package var tornTail: Range<Int>? = nil
    /// Corrupt ranges skipped under `skipCorrupt`.
    package var skipped: [Range<Int>] = []
}

package struct ReplayFailure: Error, Sendable, Equatable {
    package var offset: Int
    package var reason: String
}

package enum LogReplay {
    /// A short name and a URL: used to size the index before replay (an over-estimate of
    /// the key count costs a little memory; an under-estimate costs rehashing).
    package static let typicalRecordBytes = 64

    /// Replays `bytes` (a whole log file) and calls `apply` for every valid record, in order.
    /// An empty file is a fresh log: the caller writes the file header.
    package static func replay(_ bytes: [UInt8], skipCorrupt: Bool,
                              apply: (LogRecord) -> Void) -> Result<ReplayReport, ReplayFailure> {
        replayWithOffsets(bytes, skipCorrupt: skipCorrupt) { record, _ in apply(record) }
    }

    /// As `replay`, also passing each record's byte offset in the file (the dump prints it;
    /// after a skipped corrupt range only replay knows where the next record starts).
    package static func replayWithOffsets(_ bytes: [UInt8], skipCorrupt: Bool,
                                         apply: (LogRecord, Int) -> Void) -> Result<ReplayReport, ReplayFailure> {
        replay(size: bytes.count, chunkBytes: max(bytes.count, 1), skipCorrupt: skipCorrupt,
               read: { Array(bytes[$0]) }, apply: apply)
    }

    /// Replays a log of `size` bytes that `read` returns a range of at a time, at most about
    /// `chunkBytes` (plus one record) in memory at once: start-up memory does not grow with
    /// the log. `apply` gets every valid record and its byte offset, in order. `start`, when
    /// past the file header, is where a record starts (a hint covered what is before it).
    /// `lostPageEndsLog` (the active segment, written into preallocated zeros): bad bytes with a
    /// whole zero page between them and the next valid record are a torn tail too (see
    /// `isLostPage`).
    package static func replay(size: Int, chunkBytes: Int, skipCorrupt: Bool, from start: Int = 0, lostPageEndsLog: Bool = false,
                               read: (Range<Int>) throws -> [UInt8],
                               apply: (LogRecord, Int) -> Void) rethrows -> Result<ReplayReport, ReplayFailure> {
        var report = ReplayReport()
        let magic = LogRecord.fileMagic
        let head = try read(0..<min(size, magic.count))
        if size < magic.count {
            guard head == Array(magic.prefix(size)) else {
                return .failure(ReplayFailure(offset: 0, reason: "not a LinkRing log (bad file header)"))
            }
            report.tornTail = size == 0 ? nil : 0..<size
            return .success(report)
        }
        guard head == magic else {
            // A segment created with zeros ahead, the machine or process gone before its header.
            if lostPageEndsLog && head.allSatisfy({ $0 == 0 }) {
                report.tornTail = 0..<size
                return .success(report)
            }
            return .failure(ReplayFailure(offset: 0, reason: "not a LinkRing log (bad file header)"))
        }
        var window = ReplayWindow(size: size, chunkBytes: chunkBytes)
        var offset = max(magic.count, min(start, size))
        report.validBytes = offset
        while offset < size {
            let decoded = try window.decode(at: offset, read)
            switch decoded {
            case .record(let record, let next):
                apply(record, offset)
                report.records += 1
                offset = next
                report.validBytes = offset
            case .incomplete, .corrupt:
                let reason: String
                if case .corrupt(let why) = decoded { reason = why } else { reason = "a record's lengths run past the end of the file" }
                guard let resume = try nextValidRecord(&window, after: offset, read),
                      try !(lostPageEndsLog && isLostPage(&window, in: offset..<resume, read)) else {
                    report.tornTail = offset..<size
                    return .success(report)
                }
                guard skipCorrupt else {
                    return .failure(ReplayFailure(offset: offset, reason: "\(reason); valid records follow at byte \(resume)"))
                }
                report.skipped.append(offset..<resume)
                offset = resume
            }
        }
        return .success(report)
    }

    /// Bytes of the page the kernel writes back as a unit.
    package static let pageBytes = 4096

    /// Whether `range` holds a whole page-aligned page of zeros. In a segment written into
    /// preallocated zeros, a crash of the machine (not of the process) during a batch's
    /// write-back can keep a later page of the batch and lose an earlier one, which then reads
    /// as the zeros it overwrote: the batch was never acknowledged (under --fsync always the
    /// next one starts only after its fdatasync), so the log ends before it, as at any torn
    /// tail. Corruption in the middle rarely takes the shape of an aligned page of zeros.
    private static func isLostPage(_ window: inout ReplayWindow, in range: Range<Int>,
                                   _ read: (Range<Int>) throws -> [UInt8]) rethrows -> Bool {
        var page = (range.lowerBound + pageBytes - 1) / pageBytes * pageBytes
        while page + pageBytes <= range.upperBound {
            var isZero = true
            for offset in page..<(page + pageBytes) where try window.byte(at: offset, read) != 0 {
                isZero = false
                break
            }
            if isZero { return true }
            page += pageBytes
        }
        return false
    }

    /// The first offset after `offset` where a whole valid record starts.
    private static func nextValidRecord(_ window: inout ReplayWindow, after offset: Int,
                                        _ read: (Range<Int>) throws -> [UInt8]) rethrows -> Int? {
        var candidate = offset + 1
        while candidate < window.size {
            if try window.byte(at: candidate, read) == LogRecord.recordMagic, case .record = try window.decode(at: candidate, read) {
                return candidate
            }
            candidate += 1
        }
        return nil
    }
}

/// The part of a log replay holds in memory: at least one whole record from any offset it is
/// asked about, read `chunkBytes` at a time.
package struct ReplayWindow {
    let size: Int
    let chunkBytes: Int
    private var base = 0
    private var bytes: [UInt8] = []
    /// The most bytes one record can take (a longer length field is corruption).
    package static let recordBytesMax = LogRecord.headerBytes + 2 * Limits.logRecordBytesMax + LogRecord.checksumBytes

    init(size: Int, chunkBytes: Int) {
        self.size = size
        self.chunkBytes = chunkBytes
    }

    /// Makes the window hold `offset` and up to one record after it.
    private mutating func cover(_ offset: Int, _ read: (Range<Int>) throws -> [UInt8]) rethrows {
        let wanted = min(offset + Self.recordBytesMax, size)
        guard offset < base || wanted > base + bytes.count else { return }
        base = offset
        bytes = try read(offset..<min(offset + max(chunkBytes, Self.recordBytesMax), size))
    }

    mutating func byte(at offset: Int, _ read: (Range<Int>) throws -> [UInt8]) rethrows -> UInt8 {
        try cover(offset, read)
        return offset - base < bytes.count ? bytes[offset - base] : 0
    }

    /// The record at `offset` of the file, its `next` an offset in the file too.
    mutating func decode(at offset: Int, _ read: (Range<Int>) throws -> [UInt8]) rethrows -> LogRecord.Decoded {
        try cover(offset, read)
        guard offset - base < bytes.count else { return .incomplete }
        let decoded = LogRecord.decode(bytes, at: offset - base)
        guard case .record(let record, let next) = decoded else { return decoded }
        return .record(record, next: next + base)
    }
}
