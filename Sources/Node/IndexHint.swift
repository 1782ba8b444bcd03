// The node's hint file, DATA/linkring.hint (format: HintFile.swift, docs/PROTOCOL.md):
//
//   after each compaction (Writer, never blocking the loop): the segment table as it is (sealed
//                   segments, and the active one up to its size now) ─▶ per loop turn, the next
//                   `Limits.hintEntriesPerTurn` slots' share of the index (a fingerprint walk,
//                   stable while writes go on) appended to linkring.hint.new on the thread pool
//                   ─▶ trailer, fdatasync ─▶ rename over linkring.hint ─▶ fsync the directory
//   clean shutdown: log drained, synced, closed ─▶ the whole hint written at once (`write`),
//                   the same way
//   start-up:       the hint's table matches the segments (the sealed ones exactly, the
//                   last one at least up to its size then) and its CRC holds ─▶ the index is
//                   loaded from it, no record read, and the log is replayed from where the
//                   hint ends (the last segment's described size, and any newer segment);
//                   otherwise a log line says why and the whole log is replayed.
//
// The hint is not removed after a start: it stays valid while the log only grows, so a kill -9
// later restarts from it plus the records appended since. A compaction changes a segment, which
// makes the hint stale (its size or last bytes differ) until the compactor writes the next one.
// A crash while a hint is written leaves linkring.hint.new (removed at start-up) and the
// previous linkring.hint: the rename is the commit point, as for compaction.

import LinkRingCore
import LinkRingServer
import LinkRingUV

enum IndexHint {
    static let fileName = "linkring.hint"

    /// The identity of segment `id` at `bytes` (its size, or a prefix of the active one).
    static func identity(_ segments: LogSegments, _ id: UInt16, bytes: Int) throws -> HintFile.SegmentIdentity {
        guard let file = segments.file(of: id) else { throw UVError(-2, "no open log segment \(id)") }
        let range = HintFile.SegmentIdentity.tailRange(bytes: bytes)
        let tail = try file.read(count: range.count, at: range.lowerBound)
        return HintFile.SegmentIdentity(sequence: segments.sequence(of: id), bytes: bytes, tailCRC: CRC32C.checksum(tail))
    }

    /// The segment table now: the sealed segments and the active one at `activeBytes`, and their ids.
    static func table(_ segments: LogSegments, active: UInt16, activeBytes: Int) throws -> (identities: [HintFile.SegmentIdentity], ids: [UInt16]) {
        let ids = segments.sealed + [active]
        let identities = try ids.map { try identity(segments, $0, bytes: $0 == active ? activeBytes : segments.sealedBytes(of: $0) ?? 0) }
        return (identities, ids)
    }

    /// Writes the hint of `index` over the closed log (shutdown, blocking); a failure is logged
    /// and only costs the next start a replay.
    static func write(_ index: KeyValueIndex, segments: LogSegments, active: UInt16, activeBytes: Int, hintPath: String) {
        do {
            let started = MonotonicClock.nowNs()
            let (identities, ids) = try table(segments, active: active, activeBytes: activeBytes)
            try FileSystem.writeFileAtomically(hintPath) { write in try HintFile.write(index, segments: identities, ids: ids, emit: write) }
            Log.info("\(hintPath): \(index.count) entries written in \((MonotonicClock.nowNs() - started) / 1_000_000) ms")
        } catch {
            Log.warning("no hint file written, the next start replays the log: \(error)")
        }
    }

    /// What a start-up learns from the hint: the index, and where replay starts (the position
    /// in `sequences` and the byte in that segment).
    struct Loaded {
        let index: KeyValueIndex
        let replayFrom: (position: Int, offset: Int)
    }

    /// The index loaded from the hint at `hintPath` if it describes the segments (`ids` and
    /// `sizes` in sequence order), else nil (logged).
    static func load(hintPath: String, segments: LogSegments, ids: [UInt16], sizes: [Int]) throws -> Loaded? {
        try? FileSystem.removeFile(hintPath + ".new")
        guard FileSystem.exists(hintPath) else {
            Log.info("\(hintPath): none (the last stop was not clean, or this is the first start): replaying the log")
            return nil
        }
        let started = MonotonicClock.nowNs()
        let hint = try ReadableFile(path: hintPath)
        let size = try hint.size()
        let read = { (range: Range<Int>) in try hint.read(count: range.count, at: range.lowerBound) }
        var checked = try HintFile.segments(size: size, read: read)
        if case .success(let table) = checked { checked = try match(table, segments: segments, ids: ids, sizes: sizes) }
        guard case .success(let table) = checked else {
            if case .failure(let failure) = checked { Log.warning("\(hintPath) not used (\(failure.reason)): replaying the log") }
            return nil
        }
        let index = KeyValueIndex(source: segments)
        let loaded = try HintFile.load(size: size, read: read, ids: Array(ids.prefix(table.count)), segmentBytes: table.map(\.bytes), into: index)
        switch loaded {
        case .success(let entries):
            Log.info("\(hintPath): \(entries) entries loaded in \((MonotonicClock.nowNs() - started) / 1_000_000) ms, "
                + "replaying from byte \(table.last!.bytes) of segment \(table.last!.sequence)")
            return Loaded(index: index, replayFrom: (table.count - 1, table.last!.bytes))
        case .failure(let failure):
            Log.warning("\(hintPath) not used (\(failure.reason)): replaying the log")
            return nil
        }
    }

    /// The hint's table if it describes the first segments of the log (see the file comment).
    private static func match(_ table: [HintFile.SegmentIdentity], segments: LogSegments, ids: [UInt16],
                              sizes: [Int]) throws -> Result<[HintFile.SegmentIdentity], HintFile.HintFailure> {
        guard table.count <= ids.count else {
            return .failure(HintFile.HintFailure(reason: "stale: it names \(table.count) segments, the log has \(ids.count)"))
        }
        for (position, described) in table.enumerated() {
            let isLast = position == table.count - 1
            let sequence = segments.sequence(of: ids[position])
            guard described.sequence == sequence else {
                return .failure(HintFile.HintFailure(reason: "stale: it names segment \(described.sequence) where the log has \(sequence)"))
            }
            guard isLast ? sizes[position] >= described.bytes : sizes[position] == described.bytes,
                  try identity(segments, ids[position], bytes: described.bytes) == described else {
                return .failure(HintFile.HintFailure(reason: "stale: segment \(sequence) is \(sizes[position]) bytes, "
                    + "the hint describes \(described.bytes)" + (sizes[position] == described.bytes ? " with other last bytes" : "")))
            }
        }
        return .success(table)
    }

    /// A hint written after a compaction, a slice per loop turn, its file work on the thread pool.
    final class Writer {
        /// The stages the crash tests kill the node at: a chunk's write under way, synced, renamed.
        static let stages = ["hint-writing", "hint-synced", "hint-renamed"]

        private let loop: EventLoop
        private let index: KeyValueIndex
        private let segments: LogSegments
        private let commitLog: CommitLog
        private let path: String
        private let reached: (String) -> Void
        private let done: () -> Void
        private let nextTurn: Timer
        private var file: AppendOnlyFile?
        private var positions: [UInt16?] = []
        private var identities: [HintFile.SegmentIdentity] = []
        private var cursor: UInt64? = 0
        private var crc: UInt32 = 0
        private var entries = 0
        private var isAbandoned = false
        private let startedNs = MonotonicClock.nowNs()

        init(loop: EventLoop, index: KeyValueIndex, segments: LogSegments, commitLog: CommitLog, path: String,
             reached: @escaping (String) -> Void, done: @escaping () -> Void) {
            self.loop = loop
            self.index = index
            self.segments = segments
            self.commitLog = commitLog
            self.path = path
            self.reached = reached
            self.done = done
            nextTurn = Timer(loop: loop)
        }

        func start() {
            do {
                let (identities, ids) = try table(segments, active: commitLog.segment, activeBytes: commitLog.activeBytes)
                self.identities = identities
                positions = HintFile.positionTable(ids: ids)
                file = try AppendOnlyFile(loop: loop, path: path + ".new", truncating: true)
                emit(HintFile.header(segments: identities), isLast: false)
            } catch {
                fail("\(error)")
            }
        }

        /// Shutdown: the partial file is removed now (the stop writes a file of that name next);
        /// its descriptor is closed now, or by a chunk's append still in flight when it ends
        /// (closed under the write, the number could be reused by the stop's file). The previous
        /// hint stays.
        func abandon() {
            guard !isAbandoned else { return }
            isAbandoned = true
            nextTurn.close()
            try? FileSystem.removeFile(path + ".new")
            if let file, !file.isBusy { file.closeWithoutSync() }
        }

        private func nextSlice() {
            guard let from = cursor else { return }
            var chunk: [UInt8] = []
            chunk.reserveCapacity(Limits.hintEntriesPerTurn * HintFile.entryBytes)
            cursor = index.forEachEntry(from: from, slots: Limits.hintEntriesPerTurn) { entry in
                guard let position = HintFile.position(of: entry, positions, identities) else { return }
                HintFile.appendEntry(entry, position: position, to: &chunk)
                entries += 1
            }
            if cursor == nil {
                let withEntries = CRC32C.update(crc, chunk, 0..<chunk.count)
                return emit(chunk + HintFile.trailer(entries: entries, crc: withEntries), isLast: true)
            }
            emit(chunk, isLast: false)
        }

        private func emit(_ chunk: [UInt8], isLast: Bool) {
            guard let file else { return }
            if !isLast { crc = CRC32C.update(crc, chunk, 0..<chunk.count) }
            file.append(chunk, sync: isLast) { [weak self] error in
                guard let self, !self.isAbandoned else { return file.closeWithoutSync() }
                if let error { return self.fail("\(error)") }
                guard isLast else {
                    return self.nextTurn.start(afterMs: 0) { [weak self] in self?.nextSlice() }
                }
                self.reached("hint-synced")
                self.commit()
            }
            reached("hint-writing")
        }

        private func commit() {
            FileTasks.rename(loop, path + ".new", to: path) { [weak self] error in
                guard let self, !self.isAbandoned else { return }
                if let error { return self.fail("\(error)") }
                self.reached("hint-renamed")
                FileTasks.syncDirectory(self.loop, self.segments.directory) { [weak self] error in
                    guard let self else { return }
                    if let error { Log.warning("fsync of \(self.segments.directory) after writing \(self.path) failed: \(error)") }
                    Log.info("\(self.path): \(self.entries) entries written after the compaction in "
                        + "\((MonotonicClock.nowNs() - self.startedNs) / 1_000_000) ms")
                    self.finish()
                }
            }
        }

        private func fail(_ reason: String) {
            Log.warning("no hint file written after the compaction (a kill -9 now makes the next start replay more): \(reason)")
            abandon()
            done()
        }

        private func finish() {
            isAbandoned = true
            nextTurn.close()
            file?.closeWithoutSync()  // synced before the rename
            done()
        }
    }
}
