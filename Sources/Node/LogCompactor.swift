// Log compaction: rewrites one sealed segment at a time to the records still needed, in the
// background, and swaps it in under its own name (docs/DECISIONS.md, "Log compaction").
//
//   every `Limits.compactionCheckIntervalMs` (a duty on the node's cron): CompactionPolicy.choose
//   says which sealed segment gives back the most bytes (or to seal the active one first)
//   ─▶ create linkring-N.log.compact ─▶ per slice (`Limits.compactionSliceBytes`): read the
//      segment's next bytes on the thread pool; on the loop, keep each record the index still
//      points at (its key's entry has exactly this location: no read) and each tombstone or
//      forget that may still shadow a record of an older segment; append them on the thread
//      pool and remember each move (fingerprint, old offset → new offset: 16 bytes per record)
//   ─▶ the last append is fdatasync'ed ─▶ rename over linkring-N.log (thread pool) ─▶ fsync
//      the directory (thread pool) ─▶ map the new file under a new segment id ─▶ point moved
//      entries at their new places, `Limits.compactionRelocationsPerTurn` per loop turn (an
//      entry that a newer write moved on keeps its newer place) ─▶ close the old mapping
//   ─▶ write the hint file (IndexHint.Writer, also a slice per loop turn), then the next check
//
// A segment left with no record is removed instead of renamed. Sealed segments are immutable,
// so nothing is copied at the swap and commit batches never wait for a compaction; the loop
// does only bounded slices (sifting one read, relocating a slice of entries). Until the moves
// are applied, the index reads the old file's records through its still-open mapping.
//
// What may be dropped. A record no entry points at is superseded by one that is kept (the
// index holds the highest version, and its record is never dropped) — except that a tombstone
// the collector removed from the index, or a forget, shadows older records that may lie in an
// older segment: those are kept unless the segment is the oldest one (then every record they
// shadow is in it, and dropped too). A current forget in the oldest segment is written as a
// version-0 delete, which is what its entry is. The rename is the commit point: a crash before
// it leaves the old segment whole (start-up removes the .compact file), after it the new one
// whole (synced before the rename); either holds every record still needed, and replay order
// is unchanged (a segment keeps its sequence number).
//
// It reads the Store's index and the segment table, and asks the CommitLog to seal; neither
// refers back to it.

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
    private let hintPath: String
    private var checkDuty: CronDuty?
    private var rewrite: Rewrite?
    private var relocation: Relocation?
    private var hint: IndexHint.Writer?
    private let nextTurn: Timer
    private var notBeforeMs: UInt64 = 0
    private var isStopping = false
    private(set) var completed = 0
    #if LINKRING_TEST_HOOKS
    /// TEST HOOK (debug builds): the stage at which the process kills itself with SIGKILL
    /// (LINKRING_TEST_COMPACTION_KILL_AT), for the crash tests of every step of a rewrite.
    private let killAt = ProcessEnvironment.value(LogCompactor.killAtVariable)
    #endif
    static let killAtVariable = "LINKRING_TEST_COMPACTION_KILL_AT"
    /// The stages a rewrite passes, in order (the crash tests kill the node at each), then
    /// those of the hint written after it.
    static let stages = ["started", "sliced", "synced", "renamed", "relocating", "relocated"] + IndexHint.Writer.stages

    /// Test hook: dies here when LINKRING_TEST_COMPACTION_KILL_AT names `stage` (debug builds only).
    private func reached(_ stage: String) {
        #if LINKRING_TEST_HOOKS
        if killAt == stage {
            Log.warning("TEST HOOK: killed at compaction stage \(stage)")
            kill(getpid(), SIGKILL)
        }
        #endif
    }

    /// A kept record: its key's fingerprint and both offsets (same segment sequence, same length).
    private struct Move {
        let fingerprint: UInt64
        let from: UInt32
        let to: UInt32
    }

    /// One rewrite in progress (a class: its moves grow in place, never copied).
    private final class Rewrite {
        let segment: UInt16
        let sequence: UInt32
        let path: String
        let source: ReadableFile
        let file: AppendOnlyFile
        let bytes: Int
        let isOldest: Bool
        /// The next byte of the segment to sift, and the new file's size once queued appends land.
        var readOffset = LogRecord.fileMagic.count
        var written = 0
        /// Bytes kept that no entry points at (tombstones and forgets shadowing older segments).
        var keptBytes = 0
        var moves: ContiguousArray<Move> = []
        let startedMs: UInt64

        init(segment: UInt16, sequence: UInt32, path: String, source: ReadableFile, file: AppendOnlyFile, bytes: Int, isOldest: Bool,
             startedMs: UInt64) {
            self.segment = segment
            self.sequence = sequence
            self.path = path
            self.source = source
            self.file = file
            self.bytes = bytes
            self.isOldest = isOldest
            self.startedMs = startedMs
        }
    }

    /// Moves being applied to the index, a slice per loop turn.
    private struct Relocation {
        let done: Rewrite
        let newSegment: UInt16
        var next = 0
        var moved = 0
    }

    init(loop: EventLoop, cron: Cron, store: Store, commitLog: CommitLog, segments: LogSegments, policy: CompactionPolicy, hintPath: String) {
        self.loop = loop
        self.cron = cron
        self.store = store
        self.commitLog = commitLog
        self.segments = segments
        self.policy = policy
        self.hintPath = hintPath
        nextTurn = Timer(loop: loop)
    }

    func start() {
        checkDuty = cron.every(Limits.compactionCheckIntervalMs, "compaction check") { self.check() }
    }

    /// Shutdown: no new rewrite; one being written is abandoned (the old segment stays); moves
    /// not yet applied are applied now (a stop may take a few ms; the hint then sees one place
    /// per key); a hint being written is abandoned (the stop writes its own).
    func close() {
        isStopping = true
        if let checkDuty { cron.cancel(checkDuty) }
        checkDuty = nil
        nextTurn.close()
        abandon()
        while relocation != nil { relocateSlice(limit: Int.max) }
        hint?.abandon()
        hint = nil
    }

    var isRunning: Bool { rewrite != nil || relocation != nil || hint != nil }

    private func check() {
        guard !isRunning, !isStopping, commitLog.isWritable, loop.nowMs >= notBeforeMs else { return }
        let index = store.index
        let sealed = segments.sealed
        let usage = sealed.map {
            SegmentUsage(id: $0, bytes: segments.sealedBytes(of: $0) ?? 0, liveBytes: index.recordBytes(inSegment: $0), keptBytes: segments.keptBytes(of: $0))
        }
        let active = SegmentUsage(id: commitLog.segment, bytes: commitLog.activeBytes, liveBytes: index.recordBytes(inSegment: commitLog.segment))
        switch policy.choose(sealed: usage, active: active) {
        case .nothing: return
        case .sealActive: commitLog.requestSeal()
        case .rewrite(let segment): begin(segment, isOldest: segment == sealed.first)
        }
    }

    private func begin(_ segment: UInt16, isOldest: Bool) {
        let sequence = segments.sequence(of: segment)
        let path = segments.path(ofSequence: sequence)
        let temporary = path + SegmentLayout.compactingSuffix
        guard let source = segments.file(of: segment), let bytes = segments.sealedBytes(of: segment) else { return }
        do {
            let file = try AppendOnlyFile(loop: loop, path: temporary, truncating: true)
            rewrite = Rewrite(segment: segment, sequence: sequence, path: path, source: source, file: file, bytes: bytes,
                              isOldest: isOldest, startedMs: loop.nowMs)
        } catch {
            try? FileSystem.removeFile(temporary)
            return fail("\(error)")
        }
        Log.info("compacting \(path): \(bytes) bytes, \(store.index.recordBytes(inSegment: segment)) bytes of live records")
        reached("started")
        readNextSlice()
    }

    /// Reads the next slice on the thread pool, sifts it on the loop, appends what it keeps.
    private func readNextSlice() {
        guard let current = rewrite else { return }
        let end = min(current.readOffset + Limits.compactionSliceBytes, current.bytes)
        // A whole record may start before `end` and finish after it: read one record's worth more.
        let readEnd = min(end + ReplayWindow.recordBytesMax, current.bytes)
        FileTasks.read(loop, current.source, count: readEnd - current.readOffset, at: current.readOffset) { [weak self] result in
            guard let self, self.rewrite != nil else { return }
            if self.isStopping { return self.abandon() }
            switch result {
            case .failure(let error): self.fail("\(error)")
            case .success(let chunk): self.appendSlice(chunk, before: end)
            }
        }
    }

    private func appendSlice(_ chunk: [UInt8], before end: Int) {
        guard let current = rewrite else { return }
        var bytes = current.written == 0 ? LogRecord.fileMagic : []
        current.readOffset = sift(chunk, from: current.readOffset, before: end, into: &bytes, current)
        current.written += bytes.count
        let isLast = current.readOffset >= current.bytes
        current.file.append(bytes, sync: isLast) { [weak self] error in
            guard let self, self.rewrite === current else { return current.file.closeWithoutSync() }  // abandoned meanwhile
            if let error { return self.fail("\(error)") }
            if self.isStopping { return self.abandon() }
            guard isLast else { return self.readNextSlice() }
            self.reached("synced")
            self.swapIn()
        }
        reached("sliced")  // the slice's write is under way on the thread pool
    }

    /// Appends to `output` every record of `chunk` (which starts at byte `start` of the
    /// segment) that starts before `end` and must be kept; returns where the next slice starts.
    private func sift(_ chunk: [UInt8], from start: Int, before end: Int, into output: inout [UInt8], _ current: Rewrite) -> Int {
        let index = store.index
        var offset = 0
        while start + offset < end {
            guard case .record(let record, let next) = LogRecord.decode(chunk, at: offset) else {
                // A range --skip-corrupt skipped at start-up: step over it byte by byte.
                offset += 1
                continue
            }
            let fingerprint = index.fingerprint(of: record.key)
            let from = RecordLocation(segment: current.segment, offset: UInt32(start + offset), length: UInt16(next - offset))
            let isCurrent = index.isCurrent(fingerprint: fingerprint, at: from)
            // Only a dead tombstone asks whether its key has an entry (one read of that entry's record).
            let hasEntry = !isCurrent && record.op == .delete && !current.isOldest && index.lookup(record.key) != nil
            switch SiftDecision.of(record.op, isCurrent: isCurrent, keyHasEntry: hasEntry, isOldest: current.isOldest) {
            case .keep:
                current.moves.append(Move(fingerprint: fingerprint, from: from.offset, to: UInt32(current.written + output.count)))
                output.append(contentsOf: chunk[offset..<next])
            case .keepAsDelete:
                current.moves.append(Move(fingerprint: fingerprint, from: from.offset, to: UInt32(current.written + output.count)))
                LogRecord(version: 0, op: .delete, key: record.key).encode(into: &output)
            case .keepShadowing:
                output.append(contentsOf: chunk[offset..<next])
                current.keptBytes += next - offset
            case .drop:
                break
            }
            offset = next
        }
        return start + offset
    }

    /// The rename (or removal, for a segment left empty) that makes the rewrite the segment.
    private func swapIn() {
        guard let current = rewrite else { return }
        guard current.written < current.bytes else {
            // Every byte was still needed: keep the segment, and do not pick it again for that.
            segments.setKeptBytes(current.segment, current.bytes - LogRecord.fileMagic.count - store.index.recordBytes(inSegment: current.segment))
            Log.info("compaction of \(current.path) found nothing to drop: kept as it is")
            return abandon()
        }
        let isEmpty = current.written <= LogRecord.fileMagic.count
        let step: (@escaping (UVError?) -> Void) -> Void = isEmpty
            ? { [loop] done in FileTasks.remove(loop, current.path, completion: done) }
            : { [loop] done in FileTasks.rename(loop, current.file.path, to: current.path, completion: done) }
        step { [weak self] error in
            guard let self, self.rewrite != nil else { return }
            if let error { return self.fail("\(error)") }
            self.reached("renamed")
            self.rewrite = nil
            current.file.closeWithoutSync()  // synced before the rename
            if isEmpty { try? FileSystem.removeFile(current.file.path) }
            FileTasks.syncDirectory(self.loop, self.segments.directory) { [weak self] error in
                // Either file is whole and holds every record still needed: a rename that a
                // crash undoes costs nothing but the space.
                if let error { Log.warning("fsync of \(self?.segments.directory ?? "") after compaction failed: \(error)") }
                self?.startRelocation(current, isEmpty: isEmpty)
            }
        }
    }

    private func startRelocation(_ done: Rewrite, isEmpty: Bool) {
        if isEmpty {
            segments.close(done.segment, loop: loop)
            return finish(Relocation(done: done, newSegment: done.segment))
        }
        do {
            let newSegment = try segments.open(sequence: done.sequence, sealedBytes: done.written)
            relocation = Relocation(done: done, newSegment: newSegment)
            // A stop meanwhile: the moves are applied now, so the stop's hint sees the new file.
            if isStopping { relocateSlice(limit: Int.max) } else { scheduleRelocation() }
        } catch {
            // The old mapping still reads the records (the old file lives on while mapped);
            // entries keep pointing there until a restart maps the new file.
            Log.error("\(done.path) rewritten but cannot be mapped, entries keep reading the old file: \(error)")
        }
    }

    private func scheduleRelocation() {
        guard !isStopping else { return }
        // Not 0: libuv 1.44 runs a timer re-armed at 0 from its own callback again in the same
        // pass over the timers, so every slice would run in one loop turn (measured: a 190 ms stall).
        nextTurn.start(afterMs: 1) { [unowned self] in self.relocateSlice(limit: Limits.compactionRelocationsPerTurn) }
    }

    /// Points up to `limit` moved entries at their new places; the last slice finishes.
    private func relocateSlice(limit: Int) {
        guard var current = relocation else { return }
        let index = store.index
        let end = min(current.next + limit, current.done.moves.count)
        for position in current.next..<end {
            let move = current.done.moves[position]
            if index.relocate(fingerprint: move.fingerprint, fromSegment: current.done.segment, offset: move.from,
                              toSegment: current.newSegment, offset: move.to) {
                current.moved += 1
            }
        }
        current.next = end
        relocation = current
        reached("relocating")
        if end < current.done.moves.count { return scheduleRelocation() }
        relocation = nil
        segments.close(current.done.segment, loop: loop)
        segments.setKeptBytes(current.newSegment, current.done.keptBytes)
        finish(current)
    }

    private func finish(_ done: Relocation) {
        reached("relocated")
        completed += 1
        Log.info("compacted \(done.done.path): \(done.done.bytes) → \(done.done.written) bytes in \(loop.nowMs - done.done.startedMs) ms "
            + "(\(done.moved) records moved, \(done.done.keptBytes) bytes of tombstones kept for older segments)")
        guard !isStopping else { return }
        hint = IndexHint.Writer(loop: loop, index: store.index, segments: segments, commitLog: commitLog, path: hintPath,
                                reached: { [unowned self] in self.reached($0) }) { [unowned self] in self.hint = nil }
        hint?.start()
    }

    private func fail(_ reason: String) {
        Log.warning("log compaction failed, the segment stays as it is (next attempt in \(Limits.compactionRetryDelayMs / 1000) s): \(reason)")
        abandon()
        notBeforeMs = loop.nowMs + Limits.compactionRetryDelayMs
    }

    /// Drops the rewrite: its file is removed now; its descriptor is closed now, or by the
    /// append still in flight on it when that ends (closing it under the write would let the
    /// number be reused by a file opened meanwhile, the stop's hint, and the write land there).
    private func abandon() {
        guard let current = rewrite else { return }
        rewrite = nil
        try? FileSystem.removeFile(current.file.path)
        if !current.file.isBusy { current.file.closeWithoutSync() }
    }
}
