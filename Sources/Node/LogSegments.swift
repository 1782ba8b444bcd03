// The node's log segments (SegmentLayout.swift) as the index reads them: a table from segment
// id (RecordLocation's `segment`) to a file mapped read-only (ReadableFile), with its sequence
// number and, once sealed, its size. The index asks for a record by location; a copy of its
// bytes out of the page cache, no system call, and the record's own CRC32C proves them.
//
//   index.lookup(key) ─▶ read(segment, offset, length, into: the index's reused buffer) ─▶ memcpy ─▶ CRC
//
// The active segment is mapped `Limits.segmentBytesMax` long (the file grows into it; only
// places of durable records are read, so no read passes its end); a sealed one is mapped at
// its size (sealing remaps it), so address space follows the data. Ids are this process's: a
// segment gets one when it is opened, a compaction's rewrite of it another (both readable
// while the index is relocated from the old to the new); an id is freed when its file is
// closed, and reused. A record that cannot be read or fails its CRC is logged (rate-limited)
// and answers nil: the key reads as absent.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class LogSegments: RecordSource {
    private struct Segment {
        let sequence: UInt32
        var file: ReadableFile
        /// The size of a sealed segment (nil while it is the active one).
        var sealedBytes: Int?
        /// Bytes its last rewrite kept that no entry points at (SegmentUsage.keptBytes).
        var keptBytes = 0
    }

    let directory: String
    private var files: [Segment?] = []
    private var failures = RepeatedFailureReport()

    init(directory: String) {
        self.directory = directory
    }

    func path(ofSequence sequence: UInt32) -> String { directory + "/" + SegmentLayout.fileName(sequence) }

    /// Opens segment `sequence` for reading (`sealedBytes` nil: the active one) and returns its id.
    func open(sequence: UInt32, sealedBytes: Int?) throws -> UInt16 {
        let file = try ReadableFile(path: path(ofSequence: sequence), mappedBytes: sealedBytes ?? Limits.segmentBytesMax)
        let segment = Segment(sequence: sequence, file: file, sealedBytes: sealedBytes)
        if let free = files.firstIndex(where: { $0 == nil }) {
            files[free] = segment
            return UInt16(free)
        }
        guard files.count < Limits.segmentsMax else {
            throw UVError(-24, "open \(path(ofSequence: sequence)): more than \(Limits.segmentsMax) segments (Limits.segmentsMax)")
        }
        files.append(segment)
        return UInt16(files.count - 1)
    }

    /// The active segment `id` is sealed at `bytes`: remapped at its size from now on.
    func seal(_ id: UInt16, bytes: Int) throws {
        guard var segment = files[Int(id)] else { return }
        segment.file = try ReadableFile(path: segment.file.path, mappedBytes: bytes)
        segment.sealedBytes = bytes
        files[Int(id)] = segment
    }

    /// Closes a segment the index no longer points into; its id may be reused. The file's
    /// descriptor is closed on the thread pool: closing the last reference to a file a
    /// compaction replaced frees its blocks, which took 35 ms for 170 MB here.
    func close(_ id: UInt16, loop: EventLoop) {
        files[Int(id)]?.file.close(on: loop)
        files[Int(id)] = nil
    }

    func setKeptBytes(_ id: UInt16, _ bytes: Int) { files[Int(id)]?.keptBytes = bytes }

    func sequence(of id: UInt16) -> UInt32 { files[Int(id)]!.sequence }
    func sealedBytes(of id: UInt16) -> Int? { files[Int(id)]?.sealedBytes }
    func keptBytes(of id: UInt16) -> Int { files[Int(id)]?.keptBytes ?? 0 }
    func file(of id: UInt16) -> ReadableFile? { files[Int(id)]?.file }

    /// The sealed segments' ids, oldest first.
    var sealed: [UInt16] {
        files.indices.filter { files[$0]?.sealedBytes != nil }.map { UInt16($0) }.sorted { sequence(of: $0) < sequence(of: $1) }
    }

    /// Bytes of every sealed segment.
    var sealedBytes: Int { files.reduce(0) { $0 + ($1?.sealedBytes ?? 0) } }

    func read(_ location: RecordLocation, into buffer: inout [UInt8]) -> Bool {
        guard Int(location.segment) < files.count, let file = files[Int(location.segment)]?.file else {
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
