// `linkring-node dump PATH`: a log as text, one record per line, for operators:
//
//   OFFSET TIME VERSION put|delete KEY [VALUE]
//
// read in chunks as replay reads it (a log of any size, bounded memory). PATH is a data
// directory (every segment, oldest first, each after a `# FILE: N bytes` line), one segment
// (linkring-N.log, or an earlier release's linkring.log), or a hint file (linkring.hint,
// recognised by its magic): its segment table, then one line per index entry,
//
//   FINGERPRINT(hex) VERSION SEGMENT OFFSET LENGTH put|delete      and whether its checksum holds
//
// Torn tails and corrupt ranges are reported as comment lines; the dump never stops early.
// OFFSET is where the record starts in the file, as replay found it (so it stays right after a
// skipped corrupt range).

import LinkRingCore
import LinkRingUV

enum LogDump {
    static func run(path: String) -> Int32 {
        do {
            if let names = try? FileSystem.listDirectory(path) {
                let sequences = names.compactMap(SegmentLayout.sequence(ofFileName:)).sorted()
                let files = sequences.map { path + "/" + SegmentLayout.fileName($0) }
                    + (names.contains(SegmentLayout.legacyLogName) ? [path + "/" + SegmentLayout.legacyLogName] : [])
                guard !files.isEmpty else {
                    Output.printError("linkring-node dump: \(path) holds no log segment")
                    return 1
                }
                for file in files { try dumpFile(file) }
                return 0
            }
            try dumpFile(path)
            return 0
        } catch {
            Output.printError("linkring-node dump: \(error)")
            return 1
        }
    }

    private static func dumpFile(_ path: String) throws {
        do {
            let file = try ReadableFile(path: path)
            let size = try file.size()
            let read = { (range: Range<Int>) in try file.read(count: range.count, at: range.lowerBound) }
            if size >= HintFile.magic.count, try read(0..<HintFile.magic.count) == HintFile.magic {
                try dumpHint(path: path, size: size, read: read)
            } else {
                try dumpLog(path: path, size: size, read: read)
            }
        }
    }

    /// The log in chunks (as replay reads it): memory does not grow with the file.
    private static func dumpLog(path: String, size: Int, read: (Range<Int>) throws -> [UInt8]) throws {
        var lines = "# \(path): \(size) bytes\n"
        let result = try LogReplay.replay(size: size, chunkBytes: Limits.replayChunkBytes, skipCorrupt: true, read: read) { record, offset in
            lines += line(offset: offset, record)
            flushIfLong(&lines)
        }
        switch result {
        case .success(let report):
            for range in report.skipped { lines += "# corrupt bytes \(range.lowerBound)..<\(range.upperBound) skipped\n" }
            if let tail = report.tornTail {
                lines += try NodeProcess.isZeros(path, from: tail.lowerBound, to: tail.upperBound)
                    ? "# zeros written ahead from byte \(tail.lowerBound) (\(tail.count) bytes): the end of the log\n"
                    : "# torn tail at byte \(tail.lowerBound) (\(tail.count) bytes)\n"
            }
            lines += "# \(report.records) records"
        case .failure(let failure):
            lines += "# not a LinkRing log: \(failure.reason)"
        }
        Output.printLine(lines)
    }

    /// A hint file (HintFile.swift): its segment table, then one line per entry,
    /// `FINGERPRINT VERSION SEGMENT OFFSET LENGTH put|delete`, then whether its checksum holds.
    private static func dumpHint(path: String, size: Int, read: (Range<Int>) throws -> [UInt8]) throws {
        guard case .success(let table) = try HintFile.segments(size: size, read: read) else {
            return Output.printLine("# \(path): a hint file whose header or segment table is damaged (\(size) bytes)")
        }
        let start = HintFile.headerBytes + table.count * HintFile.segmentBytes
        let count = (size - start - HintFile.trailerBytes) / HintFile.entryBytes
        var lines = "# \(path): hint file of \(size) bytes, \(count) entries, over \(table.count) segments:\n"
        for segment in table {
            lines += "#   segment \(segment.sequence) (\(SegmentLayout.fileName(segment.sequence))): \(segment.bytes) bytes, tail CRC \(segment.tailCRC)\n"
        }
        var crc = CRC32C.update(0, try read(0..<start), 0..<start)
        let perChunk = max(1, Limits.hintChunkBytes / HintFile.entryBytes)
        for first in stride(from: 0, to: count, by: perChunk) {
            let from = start + first * HintFile.entryBytes
            let bytes = try read(from..<from + min(perChunk, count - first) * HintFile.entryBytes)
            crc = CRC32C.update(crc, bytes, 0..<bytes.count)
            for offset in stride(from: 0, to: bytes.count, by: HintFile.entryBytes) {
                let (position, entry) = HintFile.decodeEntry(bytes, at: offset)
                let sequence = Int(position) < table.count ? String(table[Int(position)].sequence) : "?\(position)"
                lines += "\(String(entry.fingerprint, radix: 16)) \(entry.version) \(sequence) \(entry.offset) \(entry.length) "
                    + "\(entry.isTombstone ? "delete" : "put")\n"
                flushIfLong(&lines)
            }
        }
        let end = start + count * HintFile.entryBytes
        let trailer = try read(end..<min(end + HintFile.trailerBytes, size))
        let matches = trailer.count == HintFile.trailerBytes && end + HintFile.trailerBytes == size
            && trailer == HintFile.trailer(entries: count, crc: crc)
        lines += matches ? "# checksum ok" : "# checksum or length wrong: a node would not use this hint"
        Output.printLine(lines)
    }

    private static func flushIfLong(_ lines: inout String) {
        guard lines.utf8.count > Limits.dumpChunkBytes else { return }
        Output.printLine(String(lines.dropLast()))
        lines = ""
    }

    private static func line(offset: Int, _ record: LogRecord) -> String {
        let key = String(decoding: record.key, as: UTF8.self)
        let time = Timestamp.iso8601(unixMs: HybridClock.unixMs(of: record.version))
        let op = String(describing: record.op)  // put, delete or forget
        let value = record.op == .put ? " " + String(decoding: record.value, as: UTF8.self) : ""
        return "\(offset) \(time) \(record.version) \(op) \(key)\(value)\n"
    }
}
