// Log compaction: rewrites linkring.log to one record per key (live values and tombstones) in
// the background, then swaps the new file in atomically (DESIGN section 6).
//
//   every `Limits.compactionCheckIntervalMs` (a duty on the node's cron): CompactionPolicy
//   says the log is well past its live records
//   ─▶ remember the log's size S and the number of keys K
//   ─▶ per loop iteration, encode the current records of the next `Limits.compactionKeysPerSlice` of the K
//      keys (in arrival order, a cursor that stays valid while writes go on) and append them
//      to linkring.log.compact off the loop ─▶ … ─▶ fdatasync
//   ─▶ between two commit batches: copy the old log's bytes from S on (records committed
//      meanwhile) to the new file, fdatasync it, rename it over linkring.log, fsync the
//      directory, and let the commit log append to it from then on
//
// Reads and writes go on during the rewrite; only the last step holds the next commit batch
// back, for the time it takes to copy the records committed during the rewrite. A record
// encoded from the index may be newer than S (the index holds durable data only) and may
// also be in the copied tail: replay keeps the highest version, so duplicates are harmless.
// The rename is the commit point: a crash before it leaves the old log whole (start-up
// removes the .compact file), a crash after it the new one whole.
//
// It reads the Store's index and swaps the CommitLog's file; neither refers back to it.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class LogCompactor {

    private let loop: EventLoop
    private let cron: Cron
    private let store: Store
    private let commitLog: CommitLog
    private let policy: CompactionPolicy
    private let logPath: String
    private let directory: String
    private var checkDuty: CronDuty?
    private var rewrite: Rewrite?
    private var notBeforeMs: UInt64 = 0
    private var isStopping = false
    private(set) var completed = 0

    /// One rewrite in progress.
    private struct Rewrite {
        let file: AppendOnlyFile
        let logBytesAtStart: Int
        let keyCount: Int
        var nextKey = 0
        let startedMs: UInt64
    }

    static func temporaryPath(forLog path: String) -> String { path + ".compact" }

    init(loop: EventLoop, cron: Cron, store: Store, commitLog: CommitLog, policy: CompactionPolicy, logPath: String,
         directory: String) {
        self.loop = loop
        self.cron = cron
        self.store = store
        self.commitLog = commitLog
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
            rewrite = Rewrite(file: file, logBytesAtStart: commitLog.sizeBytes, keyCount: store.index.keysInArrivalOrder.count,
                              startedMs: loop.nowMs)
            Log.info("compacting \(logPath): \(commitLog.sizeBytes) bytes, \(store.index.recordBytes) bytes of live records")
            writeNextSlice()
        } catch {
            // The rewrite never started: the file (maybe empty) is not left behind until a restart.
            created?.closeWithoutSync()
            try? FileSystem.removeFile(temporary)
            fail("\(error)")
        }
    }

    /// Encodes the next slice of keys and appends it; the last slice ends with fdatasync.
    private func writeNextSlice() {
        guard var current = rewrite else { return }
        if isStopping { return abandon() }
        let end = min(current.nextKey + Limits.compactionKeysPerSlice, current.keyCount)
        var bytes: [UInt8] = []
        let index = store.index
        for key in index.keysInArrivalOrder[current.nextKey..<end] {
            index.record(for: key)?.encode(into: &bytes)
        }
        current.nextKey = end
        rewrite = current
        let isLast = end == current.keyCount
        current.file.append(bytes, sync: isLast) { [unowned self] error in
            if let error { return self.fail("\(error)") }
            if isLast {
                self.commitLog.whenIdle { [unowned self] in self.swapIn() }
            } else {
                self.writeNextSlice()
            }
        }
    }

    /// Between commit batches: the tail, then the rename that makes the new log the log.
    private func swapIn() {
        guard let current = rewrite else { return }
        if isStopping { return abandon() }
        // A log that failed its fdatasync keeps the node read-only; a fresh file must not undo that.
        guard commitLog.acceptsWrites else { return fail("the log failed during the rewrite") }
        let before = commitLog.sizeBytes
        let tail: [UInt8]
        do {
            tail = try FileSystem.readRange(logPath, current.logBytesAtStart..<before)
            guard current.logBytesAtStart + tail.count == before else { return fail("\(logPath) is shorter than expected") }
            try current.file.appendBlocking(tail)
            try FileSystem.rename(current.file.path, to: logPath)
        } catch {
            return fail("\(error)")
        }
        // From the rename on, linkring.log is the new file: the commit log must append to it.
        rewrite = nil
        commitLog.replaceFile(current.file)
        do {
            try FileSystem.syncDirectory(directory)
        } catch {
            // The rename might not survive a crash, and with it what is appended from now on:
            // refuse writes (reads go on), as after a failed fdatasync.
            Log.error("fsync of \(directory) after compaction failed: \(error)")
            current.file.markFailed((error as? UVError) ?? UVError(-5, "fsync \(directory)"))
        }
        completed += 1
        Log.info("compacted \(logPath): \(before) → \(current.file.size) bytes in \(loop.nowMs - current.startedMs) ms "
            + "(\(current.keyCount) keys; \(tail.count) bytes committed during the rewrite copied)")
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
        try? FileSystem.removeFile(current.file.path)
    }
}
