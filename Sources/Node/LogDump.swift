// `linkring-node dump FILE`: a log as text, one record per line, for operators:
//
//   OFFSET TIME VERSION put|delete KEY [VALUE]
//
// read in chunks as replay reads it (a log of any size, bounded memory); or, for a hint file
// (linkring.hint, recognised by its magic), one line per index entry:
//
//   FINGERPRINT(hex) VERSION OFFSET LENGTH put|delete      and whether its checksum holds
//
// Torn tails and corrupt ranges are reported as comment lines; the dump never stops early.
// OFFSET is where the record starts in the file, as replay found it (so it stays right after a
// skipped corrupt range).

import LinkRingCore
import LinkRingUV

enum LogDump {
    static func run(path: String) -> Int32 {
        do {
            let file = try ReadableFile(path: path)
            let size = try file.size()
            let read = { (range: Range<Int>) in try file.read(count: range.count, at: range.lowerBound) }
            if size >= HintFile.magic.count, try read(0..<HintFile.magic.count) == HintFile.magic {
                try dumpHint(path: path, size: size, read: read)
            } else {
                try dumpLog(path: path, size: size, read: read)
            }
            return 0
        } catch {
            Output.printError("linkring-node dump: \(error)")
            return 1
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
            if let tail = report.tornTail { lines += "# torn tail at byte \(tail.lowerBound) (\(tail.count) bytes)\n" }
            lines += "# \(report.records) records"
        case .failure(let failure):
            lines += "# not a LinkRing log: \(failure.reason)"
        }
        Output.printLine(lines)
    }

    /// A hint file (HintFile.swift): its header, then one line per entry,
    /// `FINGERPRINT VERSION OFFSET LENGTH put|delete`, then whether its checksum holds.
    private static func dumpHint(path: String, size: Int, read: (Range<Int>) throws -> [UInt8]) throws {
        let header = try read(0..<min(size, HintFile.headerBytes))
        guard header.count == HintFile.headerBytes, size >= HintFile.headerBytes + HintFile.checksumBytes else {
            return Output.printLine("# \(path): a hint file shorter than its header (\(size) bytes)")
        }
        let count = Int(min(LittleEndian.read(header, at: 20, bytes: 8), UInt64((size - HintFile.headerBytes) / HintFile.entryBytes)))
        var lines = "# \(path): hint file of \(size) bytes for a log of \(LittleEndian.read(header, at: 8, bytes: 8)) bytes "
            + "(tail CRC \(LittleEndian.read(header, at: 16, bytes: 4))), \(LittleEndian.read(header, at: 20, bytes: 8)) entries\n"
        var crc = CRC32C.update(0, header, 0..<header.count)
        let perChunk = max(1, Limits.hintChunkBytes / HintFile.entryBytes)
        for first in stride(from: 0, to: count, by: perChunk) {
            let start = HintFile.headerBytes + first * HintFile.entryBytes
            let bytes = try read(start..<start + min(perChunk, count - first) * HintFile.entryBytes)
            crc = CRC32C.update(crc, bytes, 0..<bytes.count)
            for offset in stride(from: 0, to: bytes.count, by: HintFile.entryBytes) {
                let entry = HintFile.decodeEntry(bytes, at: offset, segment: 0)
                lines += "\(String(entry.fingerprint, radix: 16)) \(entry.version) \(entry.offset) \(entry.length) "
                    + "\(entry.isTombstone ? "delete" : "put")\n"
                flushIfLong(&lines)
            }
        }
        let end = HintFile.headerBytes + count * HintFile.entryBytes
        let trailer = try read(end..<min(end + HintFile.checksumBytes, size))
        let matches = trailer.count == HintFile.checksumBytes && end + HintFile.checksumBytes == size
            && UInt32(LittleEndian.read(trailer, at: 0, bytes: 4)) == crc
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
