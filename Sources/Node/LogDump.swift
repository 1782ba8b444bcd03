// `linkring-node dump LOGFILE`: a log as text, one record per line, for operators:
//
//   OFFSET TIME VERSION put|delete KEY [VALUE]
//
// Torn tails and corrupt ranges are reported as comment lines; the dump never stops early.
// OFFSET is where the record starts in the file, as replay found it (so it stays right after a
// skipped corrupt range).

import LinkRingCore
import LinkRingUV

enum LogDump {
    static func run(path: String) -> Int32 {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readWholeFile(path)
        } catch {
            Output.printError("linkring-node dump: \(error)")
            return 1
        }
        var lines = "# \(path): \(bytes.count) bytes\n"
        let result = LogReplay.replayWithOffsets(bytes, skipCorrupt: true) { record, offset in
            lines += line(offset: offset, record)
            if lines.utf8.count > Limits.dumpChunkBytes {
                Output.printLine(String(lines.dropLast()))
                lines = ""
            }
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
        return 0
    }

    private static func line(offset: Int, _ record: LogRecord) -> String {
        let key = String(decoding: record.key, as: UTF8.self)
        let time = Timestamp.iso8601(unixMs: HybridClock.unixMs(of: record.version))
        let op = String(describing: record.op)  // put, delete or forget
        let value = record.op == .put ? " " + String(decoding: record.value, as: UTF8.self) : ""
        return "\(offset) \(time) \(record.version) \(op) \(key)\(value)\n"
    }
}
