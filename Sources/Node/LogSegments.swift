// The node's log files as the index reads them: a table from segment id (RecordLocation's
// `segment`) to a file mapped read-only (ReadableFile, `Limits.segmentBytesMax` of address
// space each: the file grows into it). The index asks for a record by location; a copy of its
// bytes out of the page cache, no system call, and the record's own CRC32C proves them.
//
//   index.lookup(key) ─▶ read(segment, offset, length, into: the index's reused buffer) ─▶ memcpy ─▶ CRC
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
        let file = try ReadableFile(path: path, mappedBytes: Limits.segmentBytesMax)
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

    func read(_ location: RecordLocation, into buffer: inout [UInt8]) -> Bool {
        guard Int(location.segment) < files.count, let file = files[Int(location.segment)] else {
            return fail("no open log segment \(location.segment)")
        }
        do {
            try file.read(into: &buffer, count: Int(location.length), at: Int(location.offset))
            if LogRecord.isWhole(buffer) { return true }
            return fail("\(file.path): no valid record of \(location.length) bytes at byte \(location.offset) (checksum or length)")
        } catch {
            return fail("\(error)")
        }
    }

    private func fail(_ reason: String) -> Bool {
        Log.failure(&failures, nowMs: MonotonicClock.nowMs(), first: "log read failed, the key reads as absent: \(reason)") {
            "log reads still failing: \($0) more in \($1) s (last: \(reason))"
        }
        return false
    }
}
