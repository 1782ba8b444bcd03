// Log compaction: rewrites linkring.log to its live records (one per key: live values and
// tombstones) in the background, then swaps the new file in atomically (DESIGN section 6).
//
//   every `Limits.compactionCheckIntervalMs` (a duty on the node's cron): CompactionPolicy
//   says the log is well past its live records
//   ─▶ remember the log's size S; open linkring.log.compact (a new segment id for reads)
//   ─▶ per loop iteration, read the next `Limits.compactionSliceBytes` of the old log below S,
//      keep each record the index still points at (its key's entry has exactly this location:
//      no read, a location is unique), append them to linkring.log.compact off the loop and
//      remember each move (fingerprint, old offset → new offset) ─▶ … ─▶ fdatasync
//   ─▶ between two commit batches: copy the old log's bytes from S on (records committed
//      meanwhile) to the new file, fdatasync it, rename it over linkring.log, fsync the
//      directory, let the commit log append to it from then on, and point every moved entry
//      at its new place (an entry that a newer write moved on keeps its newer place); the old
//      file is closed once nothing points into it
//
// Reads and writes go on during the rewrite; only the last step holds the next commit batch
// back. A record kept by a slice may be superseded by one in the copied tail: replay keeps the
// highest version, so the duplicate is harmless, and the entry follows the newer one.
// The rename is the commit point: a crash before it leaves the old log whole (start-up
// removes the .compact file), a crash after it the new one whole. Until the moves are
// applied the index still reads the old file's records through its still-open descriptor.
//
// It reads the Store's index and swaps the CommitLog's file; neither refers back to it.

import LinkRingCore
import LinkRingServer
import LinkRingUV
#if LINKRING_TEST_HOOKS
import Glibc
#endif

final class LogCompactor {

    private let loop: EventLoop
    private let cron: Cron
    private let store: Store
    private let commitLog: CommitLog
    private let segments: LogSegments
    private let policy: CompactionPolicy
    private let logPath: String
    private let directory: String
    private var checkDuty: CronDuty?
    private var rewrite: Rewrite?
    private var notBeforeMs: UInt64 = 0
    private var isStopping = false
    private(set) var completed = 0
    #if LINKRING_TEST_HOOKS
    /// TEST HOOK (debug builds): the stage at which the process kills itself with SIGKILL
    /// (LINKRING_TEST_COMPACTION_KILL_AT), for the crash tests of every step of a rewrite.
    private let killAt = ProcessEnvironment.value(LogCompactor.killAtVariable)
    #endif
    static let killAtVariable = "LINKRING_TEST_COMPACTION_KILL_AT"
    /// The stages a rewrite passes, in order (the crash tests kill the node at each).
    static let stages = ["started", "sliced", "synced", "tail-copied", "renamed", "relocated"]

    /// Test hook: dies here when LINKRING_TEST_COMPACTION_KILL_AT names `stage` (debug builds only).
    private func reached(_ stage: String) {
        #if LINKRING_TEST_HOOKS
        if killAt == stage {
            Log.warning("TEST HOOK: killed at compaction stage \(stage)")
            kill(getpid(), SIGKILL)
        }
        #endif
    }

    /// A live record copied into the new file: its key's fingerprint and both places.
    private struct Move {
        let fingerprint: UInt64
        let from: UInt32
        let to: UInt32
        let length: UInt16
    }

    /// One rewrite in progress.
    private struct Rewrite {
        let file: AppendOnlyFile
        let oldSegment: UInt16
        let newSegment: UInt16
        let logBytesAtStart: Int
        /// The next byte of the old log to sift, and the new file's size once queued appends land.
        var readOffset: Int
        var written: Int
        var moves: ContiguousArray<Move> = []
        let startedMs: UInt64
    }

    static func temporaryPath(forLog path: String) -> String { path + ".compact" }

    init(loop: EventLoop, cron: Cron, store: Store, commitLog: CommitLog, segments: LogSegments, policy: CompactionPolicy,
         logPath: String, directory: String) {
        self.loop = loop
        self.cron = cron
        self.store = store
        self.commitLog = commitLog
        self.segments = segments
        self.policy = policy
        self.logPath = logPath
        self.directory = directory
    }

    func start() {
        checkDuty = cron.every(Limits.compactionCheckIntervalMs, "compaction check") { self.check() }
    }

    /// Shutdown: no new rewrite; one in progress is abandoned (the old log stays).
    func close() {
        isStopping = true
        if let checkDuty { cron.cancel(checkDuty) }
        checkDuty = nil
    }

    var isRunning: Bool { rewrite != nil }

    private func check() {
        guard rewrite == nil, !isStopping, commitLog.isWritable, loop.nowMs >= notBeforeMs,
              policy.shouldCompact(logBytes: commitLog.sizeBytes, recordBytes: store.index.recordBytes) else { return }
        let temporary = Self.temporaryPath(forLog: logPath)
        var created: AppendOnlyFile?
        do {
            let file = try AppendOnlyFile(loop: loop, path: temporary, truncating: true)
            created = file
            try file.appendBlocking(LogRecord.fileMagic)
            let newSegment = try segments.open(temporary)
            rewrite = Rewrite(file: file, oldSegment: commitLog.segment, newSegment: newSegment, logBytesAtStart: commitLog.sizeBytes,
                              readOffset: LogRecord.fileMagic.count, written: file.size, startedMs: loop.nowMs)
            Log.info("compacting \(logPath): \(commitLog.sizeBytes) bytes, \(store.index.recordBytes) bytes of live records")
            reached("started")
            writeNextSlice()
        } catch {
            // The rewrite never started: the file (maybe empty) is not left behind until a restart.
            created?.closeWithoutSync()
            try? FileSystem.removeFile(temporary)
            fail("\(error)")
        }
    }

    /// Sifts the next slice of the old log and appends its live records; the last slice ends with fdatasync.
    private func writeNextSlice() {
        guard var current = rewrite else { return }
        if isStopping { return abandon() }
        let end = min(current.readOffset + Limits.compactionSliceBytes, current.logBytesAtStart)
        let chunk: [UInt8]
        do {
            // A whole record may start before `end` and finish after it: read one record's worth more.
            let readEnd = min(end + LogRecord.encodedBytes(keyBytes: Limits.shortBytesMax, valueBytes: Limits.longBytesMax),
                              current.logBytesAtStart)
            chunk = try FileSystem.readRange(logPath, current.readOffset..<readEnd)
        } catch {
            return fail("\(error)")
        }
        var bytes: [UInt8] = []
        let sifted = sift(chunk, from: current.readOffset, before: end, into: &bytes, moves: &current.moves, writtenBefore: current.written)
        current.readOffset = sifted
        current.written += bytes.count
        rewrite = current
        let isLast = sifted >= current.logBytesAtStart
        defer { reached("sliced") }  // the slice's write is under way on the thread pool
        current.file.append(bytes, sync: isLast) { [unowned self] error in
            if let error { return self.fail("\(error)") }
            if isLast { self.reached("synced") }
            if isLast {
                self.commitLog.whenIdle { [unowned self] in self.swapIn() }
            } else {
                self.writeNextSlice()
            }
        }
    }

    /// Appends to `output` every record of `chunk` (which starts at byte `start` of the old log)
    /// that starts before `end` and is its key's current entry; returns where the next slice starts.
    private func sift(_ chunk: [UInt8], from start: Int, before end: Int, into output: inout [UInt8],
                      moves: inout ContiguousArray<Move>, writtenBefore: Int) -> Int {
        guard let current = rewrite else { return end }
        let index = store.index
        var offset = 0
        while start + offset < end {
            guard case .record(let record, let next) = LogRecord.decode(chunk, at: offset) else {
                // A range --skip-corrupt skipped at start-up: step over it byte by byte.
                offset += 1
                continue
            }
            let fingerprint = index.fingerprint(of: record.key)
            let from = RecordLocation(segment: current.oldSegment, offset: UInt32(start + offset), length: UInt16(next - offset))
            if index.isCurrent(fingerprint: fingerprint, at: from) {
                let to = UInt32(writtenBefore + output.count)
                if record.op == .forget {
                    // The entry is a version-0 tombstone: a delete says so on its own (same length).
                    LogRecord(version: 0, op: .delete, key: record.key).encode(into: &output)
                } else {
                    output.append(contentsOf: chunk[offset..<next])
                }
                moves.append(Move(fingerprint: fingerprint, from: from.offset, to: to, length: from.length))
            }
            offset = next
        }
        return start + offset
    }

    /// Between commit batches: the tail, then the rename that makes the new log the log.
    private func swapIn() {
        guard let current = rewrite else { return }
        if isStopping { return abandon() }
        // A log that failed its fdatasync keeps the node read-only; a fresh file must not undo that.
        guard commitLog.acceptsWrites else { return fail("the log failed during the rewrite") }
        let before = commitLog.sizeBytes
        let tailStart = current.file.size
        let tail: [UInt8]
        do {
            tail = try FileSystem.readRange(logPath, current.logBytesAtStart..<before)
            guard current.logBytesAtStart + tail.count == before else { return fail("\(logPath) is shorter than expected") }
            try current.file.appendBlocking(tail)
            reached("tail-copied")
            try FileSystem.rename(current.file.path, to: logPath)
            reached("renamed")
        } catch {
            return fail("\(error)")
        }
        // From the rename on, linkring.log is the new file: the commit log must append to it.
        rewrite = nil
        commitLog.replaceFile(current.file, segment: current.newSegment)
        do {
            try FileSystem.syncDirectory(directory)
        } catch {
            // The rename might not survive a crash, and with it what is appended from now on:
            // refuse writes (reads go on), as after a failed fdatasync.
            Log.error("fsync of \(directory) after compaction failed: \(error)")
            current.file.markFailed((error as? UVError) ?? UVError(-5, "fsync \(directory)"))
        }
        let moved = relocate(current, tail: tail, tailStart: tailStart)
        segments.close(current.oldSegment)
        reached("relocated")
        completed += 1
        Log.info("compacted \(logPath): \(before) → \(current.file.size) bytes in \(loop.nowMs - current.startedMs) ms "
            + "(\(moved) records kept; \(tail.count) bytes committed during the rewrite copied)")
    }

    /// Points every entry still at a moved record (a kept one, or one of the copied tail) at its
    /// new place; returns the records moved.
    private func relocate(_ done: Rewrite, tail: [UInt8], tailStart: Int) -> Int {
        let index = store.index
        var moved = 0
        for move in done.moves {
            let from = RecordLocation(segment: done.oldSegment, offset: move.from, length: move.length)
            let to = RecordLocation(segment: done.newSegment, offset: move.to, length: move.length)
            if index.relocate(fingerprint: move.fingerprint, from: from, to: to) { moved += 1 }
        }
        var offset = 0
        while offset < tail.count, case .record(let record, let next) = LogRecord.decode(tail, at: offset) {
            let length = UInt16(next - offset)
            index.relocate(fingerprint: index.fingerprint(of: record.key),
                           from: RecordLocation(segment: done.oldSegment, offset: UInt32(done.logBytesAtStart + offset), length: length),
                           to: RecordLocation(segment: done.newSegment, offset: UInt32(tailStart + offset), length: length))
            offset = next
        }
        return moved
    }

    private func fail(_ reason: String) {
        Log.warning("log compaction failed, the log stays as it is (next attempt in \(Limits.compactionRetryDelayMs / 1000) s): \(reason)")
        abandon()
        notBeforeMs = loop.nowMs + Limits.compactionRetryDelayMs
    }

    private func abandon() {
        guard let current = rewrite else { return }
        rewrite = nil
        current.file.closeWithoutSync()
        segments.close(current.newSegment)
        try? FileSystem.removeFile(current.file.path)
    }
}
