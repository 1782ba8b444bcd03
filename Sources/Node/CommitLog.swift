// The node's write path to disk: group commit over the append-only log.
//
//   submit(record) ─▶ pending bytes + waiters ─(end of loop iteration)─▶ one append
//        (pwrite [+ fdatasync], on the loop while the disk is fast, else on the thread pool:
//        FlushPlacement) ─▶ every waiter in log order, their answers gathered into one write
//        per connection (the Store applies each record to the index before its answer)
//
// Every write that arrives in one loop iteration shares one write and one fdatasync; writes
// arriving while a batch is on disk form the next batch (on the loop: those read in the next
// iteration, everything that arrived meanwhile). The index holds only durable data: a
// record is applied after its batch is on disk, so a read never returns a value that a crash
// could still take back. A failed batch is answered `false` (503) and nothing of it is
// applied; the file was cut back to its start, so a later batch appends cleanly (a full disk
// recovers once space is freed). Under `everysec`, batches are written without fdatasync and
// a duty on the node's cron asks for one fdatasync every `Limits.everysecSyncIntervalMs`;
// under `never`, the kernel decides. The end-of-iteration hook is not a timer: it runs once
// per loop iteration that submitted something, which is what makes the batches.
//
// Failures, as `/_/health` shows them in "writable":
//   a batch fails, the file is whole again (ENOSPC)  writable false until a batch succeeds;
//                                                    every write is still tried, so the node
//                                                    recovers by itself once space is freed
//   fdatasync or the undo of a failed write fails    writable false for good: `acceptsWrites`
//                                                    is false and the node refuses writes
//                                                    until it is restarted
// The first failure is logged as ERROR, then at most one summary line with the count of
// refused writes per `Limits.repeatedFailureLogIntervalMs`, and one line on recovery. A failed
// fdatasync at close is logged as ERROR and kept in `closeFailure` (the process exits 1).
//
// Segments (SegmentLayout.swift): the log appends to its active segment; between batches, once
// that is `--segment-bytes` long (or the compactor asks for it), it rolls over:
//
//   fdatasync the active segment (it is whole on disk from then on: sealed, immutable) ─▶ create
//   the next segment (blocking open, once per segment) with its header, fdatasync'ed ─▶ fsync
//   the directory (thread pool) ─▶ append to the new one; the sealed one is remapped at its size
//
// Batches wait meanwhile (they queue, as behind a slow fdatasync). A failed roll-over (a full
// disk) removes the new file and keeps appending to the old one; the next batch tries again.
//
// Each durable record is answered with its location (segment id of the file, offset, length),
// which the Store gives the index: values are read back from the log, not kept in memory.
// A segment never passes `Limits.segmentBytesMax` (offsets are 32 bits): a batch that would is
// refused like a failed write (503); roll-over keeps segments far below it.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class CommitLog: RecordLog {
    private let loop: EventLoop
    private let cron: Cron
    private var file: AppendOnlyFile
    private let policy: FsyncPolicy
    private let segments: LogSegments
    private let segmentBytes: Int
    private var isRollingOver = false
    private var sealRequested = false
    private var rollOverNotBeforeMs: UInt64 = 0
    private var pendingBytes: [UInt8] = []
    /// The records in `pendingBytes` (where each starts in it, its length) with their waiters,
    /// and those of the batch on disk, in log order.
    private var pending: [Waiter] = []
    private var inFlight: [Waiter] = []
    /// Where the batch on disk starts in the file.
    private var inFlightStart = 0
    /// The id the index knows the active segment by (RecordLocation.segment).
    private(set) var segment: UInt16
    private var hook: IterationHook?
    private var syncDuty: CronDuty?
    private var needsSync = false
    private var onIdle: (() -> Void)?
    /// Runs the answers of a durable batch (the server's `answeringTogether`: one write per
    /// connection for the whole batch); by default, just runs them.
    var answeringTogether: (() -> Void) -> Void = { $0() }
    /// Told the id of each segment sealed by a roll-over.
    var onSealed: ((UInt16) -> Void)?
    private var loggedPermanentFailure = false
    private var refusedWrites = RepeatedFailureReport()
    /// Batches written (each one write, plus an fdatasync under `always`) and the records they
    /// carried, since start: `/_/health` shows them, so a load test reads flushes per second
    /// and records per flush (docs/BENCHMARKS.md, "The PUT path").
    private(set) var batchesWritten = 0
    /// Where batches run: on the loop while the disk is fast (FlushPlacement).
    private(set) var placement = FlushPlacement()
    private(set) var recordsWritten = 0

    /// Bytes in every segment of the log.
    var sizeBytes: Int { segments.sealedBytes + file.size }
    /// Bytes in the active segment.
    var activeBytes: Int { file.size }
    /// False once the file failed for good (fdatasync, or the undo of a failed write): the
    /// node then refuses writes until it is restarted.
    var acceptsWrites: Bool { file.failure == nil }
    /// False while writes fail: for good, or from a failed batch (a full disk) until one succeeds.
    var isWritable: Bool { acceptsWrites && !refusedWrites.isFailing }
    /// The error of the final fdatasync in `close`, if it failed.
    private(set) var closeFailure: UVError?

    private struct Waiter {
        let start: Int
        let length: Int
        let done: (RecordLocation?) -> Void
    }

    init(loop: EventLoop, cron: Cron, file: AppendOnlyFile, segment: UInt16, segments: LogSegments, segmentBytes: Int, policy: FsyncPolicy) {
        self.loop = loop
        self.segments = segments
        self.segmentBytes = segmentBytes
        self.segment = segment
        self.cron = cron
        self.file = file
        self.policy = policy
        hook = IterationHook(loop: loop) { [unowned self] in self.endOfIteration() }
        if policy == .everysec {
            syncDuty = cron.every(Limits.everysecSyncIntervalMs, "everysec fdatasync") { self.requestSync() }
        }
    }

    /// Queues `record`; `done(location)` once it is durable under the fsync policy (the
    /// batch's waiters are called in log order), `done(nil)` if the batch failed.
    func submit(_ record: LogRecord, done: @escaping (RecordLocation?) -> Void) {
        let start = pendingBytes.count
        record.encode(into: &pendingBytes)
        pending.append(Waiter(start: start, length: pendingBytes.count - start, done: done))
        hook?.start()
    }

    /// Calls `completion` once nothing is pending or on disk (shutdown).
    func drain(_ completion: @escaping () -> Void) {
        if pending.isEmpty && !file.isBusy && !isRollingOver {
            completion()
        } else {
            onIdle = completion
        }
    }

    /// Seals the active segment at the next chance (between batches), if it holds a record.
    func requestSeal() {
        sealRequested = true
        startBatch()
    }

    /// Syncs and closes the file (after `drain`). A failed fdatasync is logged and kept in
    /// `closeFailure`.
    func close() {
        hook?.close()
        hook = nil
        if let syncDuty { cron.cancel(syncDuty) }
        syncDuty = nil
        do {
            try file.closeBlocking()
        } catch {
            closeFailure = error
            Log.error("log not synced at shutdown, writes since the last fdatasync may be lost: \(error)")
        }
    }

    private func endOfIteration() {
        hook?.stop()
        startBatch()
    }

    /// Starts the next batch if one may start. A batch on the loop finishes inside
    /// `file.append`, and its `finishBatch` asks for the next one: that call only sets
    /// `startAgain`, and the loop here starts it, so batches never nest.
    private func startBatch() {
        guard !isStartingBatch else {
            startAgain = true
            return
        }
        isStartingBatch = true
        defer { isStartingBatch = false }
        repeat {
            startAgain = false
            startOneBatch()
        } while startAgain
    }

    private var isStartingBatch = false
    private var startAgain = false

    private func startOneBatch() {
        guard !file.isBusy, !isRollingOver else { return }
        if (sealRequested || file.size >= segmentBytes) && file.size > LogRecord.fileMagic.count && acceptsWrites
            && loop.nowMs >= rollOverNotBeforeMs {
            return rollOver()
        }
        sealRequested = false
        if pending.isEmpty {
            if needsSync { return startSync() }
            if let onIdle {
                self.onIdle = nil
                onIdle()
            }
            return
        }
        swap(&pending, &inFlight)
        let bytes = pendingBytes
        pendingBytes.removeAll(keepingCapacity: true)
        inFlightStart = file.size
        guard inFlightStart + bytes.count <= Limits.segmentBytesMax else {
            // A location could not name these records (RecordLocation's offset is 32 bits).
            return finishBatch(UVError(-27, "\(file.path) would pass \(Limits.segmentBytesMax) bytes (Limits.segmentBytesMax): "
                + "compaction must shrink it first"), wasWritten: false)
        }
        file.append(bytes, sync: policy == .always, onLoop: placement.runsOnLoop(nowMs: MonotonicClock.nowMs())) { [unowned self] error in
            self.finishBatch(error)
        }
    }

    /// Answers the batch on disk (`wasWritten` false: refused before any write) and starts the next.
    private func finishBatch(_ error: UVError?, wasWritten: Bool = true) {
        if wasWritten { notePlacement() }
        let batch = inFlight
        inFlight.removeAll(keepingCapacity: true)
        if let error {
            report(error, refusedWrites: batch.count)
        } else {
            noteSuccess()
            batchesWritten += 1
            recordsWritten += batch.count
        }
        answeringTogether {
            for waiter in batch {
                waiter.done(error == nil ? RecordLocation(segment: self.segment, offset: self.inFlightStart + waiter.start, length: waiter.length) : nil)
            }
        }
        startBatch()
    }

    /// Tells the placement where the batch just written ran, and how long it took on the loop.
    private func notePlacement() {
        guard let tookUs = file.lastLoopRunUs else { return placement.ranOnPool() }
        let nowMs = MonotonicClock.nowMs()
        placement.ranOnLoop(tookUs: tookUs, nowMs: nowMs)
        guard !placement.runsOnLoop(nowMs: nowMs) else { return }
        Log.warning("\(Limits.loopFlushSlowBatchesMax) log batches within \(Limits.loopFlushSlowWindowMs) ms took over "
            + "\(Limits.loopFlushMaxMs) ms on the loop (the last \(tookUs / 1000) ms): batches go to the thread pool for "
            + "\(Limits.poolFlushStayMs / 1000) s (the disk is slow)")
    }

    /// Seals the active segment and appends to a new one (see the file comment).
    private func rollOver() {
        isRollingOver = true
        sealRequested = false
        file.trimAndSync { [unowned self] error in
            if let error { return self.rollOverFailed(error, created: nil) }
            let sequence = self.segments.sequence(of: self.segment) + 1
            let path = self.segments.path(ofSequence: sequence)
            let next: AppendOnlyFile
            do {
                next = try AppendOnlyFile(loop: self.loop, path: path, truncating: true, preallocationBytes: Limits.logPreallocationBytes)
            } catch {
                return self.rollOverFailed((error as? UVError) ?? UVError(-5, "create \(path)"), created: nil)
            }
            next.append(LogRecord.fileMagic, sync: true) { [unowned self] error in
                if let error { return self.rollOverFailed(error, created: next) }
                FileTasks.syncDirectory(self.loop, self.segments.directory) { [unowned self] error in
                    if let error { return self.rollOverFailed(error, created: next) }
                    self.switchTo(next, sequence: sequence)
                }
            }
        }
    }

    private func switchTo(_ next: AppendOnlyFile, sequence: UInt32) {
        let sealed = segment
        do {
            let id = try segments.open(sequence: sequence, sealedBytes: nil)
            try segments.seal(sealed, bytes: file.size)
            file.closeWithoutSync()  // synced at the start of the roll-over, nothing appended since
            file = next
            segment = id
        } catch {
            return rollOverFailed((error as? UVError) ?? UVError(-5, "open \(next.path)"), created: next)
        }
        isRollingOver = false
        Log.info("log segment \(segments.sequence(of: sealed)) sealed at \(segments.sealedBytes(of: sealed) ?? 0) bytes, appending to \(next.path)")
        onSealed?(sealed)
        startBatch()
    }

    /// The new segment is removed (appends go on in the old one); a failed fdatasync of the
    /// old one has already failed the log for good.
    private func rollOverFailed(_ error: UVError, created: AppendOnlyFile?) {
        if let created {
            created.closeWithoutSync()
            try? FileSystem.removeFile(created.path)
        }
        Log.warning("log segment roll-over failed, appending to \(file.path) meanwhile (next attempt in "
            + "\(Limits.rollOverRetryDelayMs) ms): \(error)")
        isRollingOver = false
        rollOverNotBeforeMs = loop.nowMs + Limits.rollOverRetryDelayMs
        startBatch()
    }

    private func requestSync() {
        needsSync = true
        startBatch()
    }

    private func startSync() {
        needsSync = false
        file.sync { [unowned self] error in
            if let error { self.report(error, refusedWrites: 0) }
            self.startBatch()
        }
    }

    /// Logs a failed batch or sync: rate-limited while the file can recover, once when it cannot.
    private func report(_ error: UVError, refusedWrites count: Int) {
        if !acceptsWrites {
            guard !loggedPermanentFailure else { return }
            loggedPermanentFailure = true
            return Log.error("log failed, this node refuses writes until it is restarted: \(error)")
        }
        Log.failure(&refusedWrites, count: count, nowMs: loop.nowMs,
                    first: "log write failed, writes answered 503 until one succeeds (each write tries again): \(error)",
                    summary: { "log writes still failing: \($0) more writes refused in \($1) s: \(error)" })
    }

    private func noteSuccess() {
        Log.recovery(&refusedWrites, nowMs: loop.nowMs) { "log writes succeed again, after \($0) refused writes in \($1 / 1000) s" }
    }
}
