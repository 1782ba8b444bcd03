// The node's hint file, DATA/linkring.hint (format: HintFile.swift, docs/PROTOCOL.md):
//
//   clean shutdown: log drained, synced, closed ─▶ hint written to linkring.hint.new in chunks,
//                   fsync'ed, renamed over linkring.hint, directory fsync'ed
//   start-up:       linkring.hint describes linkring.log (size, CRC of its last bytes) and
//                   passes its CRC ─▶ the index is loaded from it, no record read; otherwise
//                   a log line says why and the log is replayed. Either way the hint is then
//                   removed, before the node appends anything, so it can never describe a log
//                   that moved on (a later kill -9 leaves no hint: the next start replays).
//
// A crash while the hint is written leaves linkring.hint.new (removed at start-up) and no
// linkring.hint: the rename is the commit point, as for compaction.

import LinkRingCore
import LinkRingServer
import LinkRingUV

enum IndexHint {
    static let fileName = "linkring.hint"

    /// The size and last bytes' CRC of the log at `logPath` (`logBytes` long).
    static func identity(ofLog logPath: String, logBytes: Int) throws -> HintFile.LogIdentity {
        let tail = try FileSystem.readRange(logPath, HintFile.LogIdentity.tailRange(logBytes: logBytes))
        return HintFile.LogIdentity(logBytes: logBytes, tailCRC: CRC32C.checksum(tail))
    }

    /// Writes the hint of `index` over the closed log (shutdown); a failure is logged and only
    /// costs the next start a replay.
    static func write(_ index: KeyValueIndex, logPath: String, logBytes: Int, segment: UInt16, hintPath: String) {
        var foreign = 0
        index.forEachEntry { if $0.segment != segment { foreign += 1 } }
        guard foreign == 0 else {
            return Log.warning("no hint file written: \(foreign) entries are not in \(logPath) (a compaction was being applied)")
        }
        do {
            let started = MonotonicClock.nowNs()
            let log = try identity(ofLog: logPath, logBytes: logBytes)
            try FileSystem.writeFileAtomically(hintPath) { write in try HintFile.write(index, log: log, emit: write) }
            Log.info("\(hintPath): \(index.count) entries written in \((MonotonicClock.nowNs() - started) / 1_000_000) ms")
        } catch {
            Log.warning("no hint file written, the next start replays the log: \(error)")
        }
    }

    /// The index loaded from the hint at `hintPath` if it describes the log, else nil (logged).
    /// The hint is removed either way.
    static func load(hintPath: String, logPath: String, logBytes: Int, segments: LogSegments, segment: UInt16) throws -> KeyValueIndex? {
        try? FileSystem.removeFile(hintPath + ".new")
        guard FileSystem.exists(hintPath) else {
            Log.info("\(hintPath): none (the last stop was not clean, or this is the first start): replaying the log")
            return nil
        }
        defer { removeHint(hintPath) }
        let started = MonotonicClock.nowNs()
        let hint = try ReadableFile(path: hintPath)
        let index = KeyValueIndex(source: segments)
        let loaded = try HintFile.load(size: hint.size(), read: { try hint.read(count: $0.count, at: $0.lowerBound) },
                                       describing: identity(ofLog: logPath, logBytes: logBytes), segment: segment, into: index)
        switch loaded {
        case .success(let entries):
            Log.info("\(hintPath): \(entries) entries loaded in \((MonotonicClock.nowNs() - started) / 1_000_000) ms, no replay")
            return index
        case .failure(let failure):
            Log.warning("\(hintPath) not used (\(failure.reason)): replaying the log")
            return nil
        }
    }

    private static func removeHint(_ path: String) {
        do {
            try FileSystem.removeFile(path)
            let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            try FileSystem.syncDirectory(directory.isEmpty ? "/" : directory)
        } catch {
            Log.warning("\(path) could not be removed (\(error)): it is checked against the log at the next start")
        }
    }
}
