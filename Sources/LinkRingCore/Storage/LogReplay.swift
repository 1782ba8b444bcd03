// Replay of a whole log file's bytes into an index, telling a torn tail from corruption.
//
//   - A record that runs past the end of the file, or any bad bytes, after which no valid record
//     follows, is a TORN TAIL: the crash happened mid-append (or the filesystem grew the file
//     with zeros). Replay stops there; the caller truncates the file to `validBytes` and warns.
//     A record that SEEMS to run past the end (a damaged length field) but is followed by a
//     valid record is corruption, below: truncating there would delete every record after it.
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
        var report = ReplayReport()
        let magic = LogRecord.fileMagic
        if bytes.count < magic.count {
            guard bytes == Array(magic.prefix(bytes.count)) else {
                return .failure(ReplayFailure(offset: 0, reason: "not a LinkRing log (bad file header)"))
            }
            report.tornTail = bytes.isEmpty ? nil : 0..<bytes.count
            return .success(report)
        }
        guard Array(bytes[0..<magic.count]) == magic else {
            return .failure(ReplayFailure(offset: 0, reason: "not a LinkRing log (bad file header)"))
        }
        var offset = magic.count
        report.validBytes = offset
        while offset < bytes.count {
            let decoded = LogRecord.decode(bytes, at: offset)
            switch decoded {
            case .record(let record, let next):
                apply(record, offset)
                report.records += 1
                offset = next
                report.validBytes = offset
            case .incomplete, .corrupt:
                let reason: String
                if case .corrupt(let why) = decoded { reason = why } else { reason = "a record's lengths run past the end of the file" }
                guard let resume = nextValidRecord(bytes, after: offset) else {
                    report.tornTail = offset..<bytes.count
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

    /// The first offset after `offset` where a whole valid record starts.
    static func nextValidRecord(_ bytes: [UInt8], after offset: Int) -> Int? {
        var candidate = offset + 1
        while candidate < bytes.count {
            if bytes[candidate] == LogRecord.recordMagic, case .record = LogRecord.decode(bytes, at: candidate) {
                return candidate
            }
            candidate += 1
        }
        return nil
    }
}
