// The node's log files as the index reads them: a table from segment id (RecordLocation's
// `segment`) to a file open for pread. The index asks for a record by location; one pread
// returns its bytes and the record's own CRC32C proves them (LogRecord.decodeWhole).
//
//   index.lookup(key) ─▶ record(at: segment, offset, length) ─▶ files[segment].read ─▶ decode + CRC
//
// Ids are this process's: the live log file gets one when it is opened, a compaction's new
// file another; an id is freed when its file is closed (a compacted-away log, after the index
// stopped pointing into it) and reused, so 16 bits are plenty. A record that cannot be read or
// fails its CRC is logged (rate-limited) and answers nil: the key reads as absent.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class LogSegments: RecordSource {
    private var files: [ReadableFile?] = []
    private var failures = RepeatedFailureReport()

    /// Opens `path` for reading and returns its new segment id.
    func open(_ path: String) throws -> UInt16 {
        let file = try ReadableFile(path: path)
        if let free = files.firstIndex(where: { $0 == nil }) {
            files[free] = file
            return UInt16(free)
        }
        precondition(files.count < Int(UInt16.max), "at most 65535 open log segments")
        files.append(file)
        return UInt16(files.count - 1)
    }

    /// Closes a segment the index no longer points into; its id may be reused.
    func close(_ segment: UInt16) {
        files[Int(segment)] = nil
    }

    func path(of segment: UInt16) -> String? {
        Int(segment) < files.count ? files[Int(segment)]?.path : nil
    }

    func record(at location: RecordLocation) -> LogRecord? {
        guard Int(location.segment) < files.count, let file = files[Int(location.segment)] else {
            return fail("no open log segment \(location.segment)")
        }
        do {
            let bytes = try file.read(count: Int(location.length), at: Int(location.offset))
            if let record = LogRecord.decodeWhole(bytes) { return record }
            return fail("\(file.path): no valid record of \(location.length) bytes at byte \(location.offset) (checksum or length)")
        } catch {
            return fail("\(error)")
        }
    }

    private func fail(_ reason: String) -> LogRecord? {
        Log.failure(&failures, nowMs: MonotonicClock.nowMs(), first: "log read failed, the key reads as absent: \(reason)") {
            "log reads still failing: \($0) more in \($1) s (last: \(reason))"
        }
        return nil
    }
}
