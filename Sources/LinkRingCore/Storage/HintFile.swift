// The hint file: the index as it was at a moment, so a restart loads it instead of replaying
// the log (docs/PROTOCOL.md "Hint file"; Bitcask's hint files, but of the whole index and
// without keys, which stay in the log). Written after each compaction and at a clean stop.
//
//   file    = "LRHINT02" segments:u32le segment* entry* entries:u64le crc:u32le
//   segment = sequence:u32le bytes:u64le tailCRC:u32le                                (16 bytes)
//   entry   = fingerprint:u64le version:u64le segment:u16le offset:u32le length:u16le
//             tieBreakHigh:u32le                                                      (28 bytes)
//
// `crc` is the CRC32C of every byte before it. The segment table names the log as it was when
// the hint was started, oldest first: every segment but the last is sealed (immutable) and
// must still be exactly `bytes` long with its last `tailCheckBytes` bytes' CRC `tailCRC`; the
// last was the active one, which may have grown since: it must be at least `bytes` long with
// the same CRC of its `tailCheckBytes` bytes before `bytes`. An entry's `segment` is a position
// in the table. The entries may have been taken while writes went on (a hint written after a
// compaction is built a slice per loop turn): what was appended after the last segment's `bytes`
// is replayed over them at start-up, as are segments newer than the table's, so the index
// ends up exactly as replay of the whole log would leave it. A hint that is missing, stale,
// short or fails its CRC is not used: the caller replays the log and says why (HintFailure).
// Writing and loading stream in chunks of `Limits.hintChunkBytes`, so neither holds the whole
// file.

package enum HintFile {
    package static let magic: [UInt8] = Array("LRHINT02".utf8)
    package static let headerBytes = 8 + 4
    package static let segmentBytes = 16
    package static let entryBytes = 28
    package static let trailerBytes = 8 + 4
    /// Bytes before a segment's described size whose CRC the hint carries.
    package static let tailCheckBytes = 4096

    /// A segment as the hint saw it: its sequence number, size and the CRC32C of its last bytes.
    package struct SegmentIdentity: Sendable, Equatable {
        package var sequence: UInt32
        package var bytes: Int
        package var tailCRC: UInt32

        package init(sequence: UInt32, bytes: Int, tailCRC: UInt32) {
            self.sequence = sequence
            self.bytes = bytes
            self.tailCRC = tailCRC
        }

        /// The range of a segment `tailCRC` covers when it is `bytes` long.
        package static func tailRange(bytes: Int) -> Range<Int> { max(0, bytes - tailCheckBytes)..<bytes }
    }

    package struct HintFailure: Error, Sendable, Equatable {
        package var reason: String

        package init(reason: String) {
            self.reason = reason
        }
    }

    /// The header and segment table of a hint over `segments` (oldest first, the last one active).
    package static func header(segments: [SegmentIdentity]) -> [UInt8] {
        var bytes = magic
        LittleEndian.append(UInt64(segments.count), bytes: 4, to: &bytes)
        for segment in segments {
            LittleEndian.append(UInt64(segment.sequence), bytes: 4, to: &bytes)
            LittleEndian.append(UInt64(segment.bytes), bytes: 8, to: &bytes)
            LittleEndian.append(UInt64(segment.tailCRC), bytes: 4, to: &bytes)
        }
        return bytes
    }

    /// Appends `entry` to `bytes`, its segment given as a position in the table.
    package static func appendEntry(_ entry: IndexEntry, position: UInt16, to bytes: inout [UInt8]) {
        LittleEndian.append(entry.fingerprint, bytes: 8, to: &bytes)
        LittleEndian.append(entry.version, bytes: 8, to: &bytes)
        LittleEndian.append(UInt64(position), bytes: 2, to: &bytes)
        LittleEndian.append(UInt64(entry.offset), bytes: 4, to: &bytes)
        LittleEndian.append(UInt64(entry.length), bytes: 2, to: &bytes)
        LittleEndian.append(UInt64(entry.tieBreakHigh), bytes: 4, to: &bytes)
    }

    /// The trailer after `entries` entries, `crc` being the CRC32C of every byte before it.
    package static func trailer(entries: Int, crc: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        LittleEndian.append(UInt64(entries), bytes: 8, to: &bytes)
        let withCount = CRC32C.update(crc, bytes, 0..<bytes.count)
        LittleEndian.append(UInt64(withCount), bytes: 4, to: &bytes)
        return bytes
    }

    /// Writes the hint of `index` (over `segments`, whose index ids `ids` gives in the same
    /// order) through `emit`, in chunks; entries in segments not listed, or past the bytes the
    /// table describes, are left out (they are replayed).
    package static func write(_ index: KeyValueIndex, segments: [SegmentIdentity], ids: [UInt16],
                              chunkBytes: Int = Limits.hintChunkBytes, emit: ([UInt8]) throws -> Void) throws {
        let positions = positionTable(ids: ids)
        var chunk = header(segments: segments)
        var crc: UInt32 = 0
        var entries = 0
        try index.forEachEntry { entry in
            guard let position = position(of: entry, positions, segments) else { return }
            appendEntry(entry, position: position, to: &chunk)
            entries += 1
            if chunk.count >= chunkBytes {
                crc = CRC32C.update(crc, chunk, 0..<chunk.count)
                try emit(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        crc = CRC32C.update(crc, chunk, 0..<chunk.count)
        try emit(chunk + trailer(entries: entries, crc: crc))
    }

    /// The table position of `entry`'s segment, nil when the hint leaves the entry out: a
    /// segment not in the table, or a record past the bytes described (the active segment's
    /// records after the hint began, which start-up replays). So every entry a hint holds lies
    /// within what the table's checks vouch for, and a torn tail cut after a crash never
    /// leaves an entry pointing past the end of its file.
    package static func position(of entry: IndexEntry, _ positions: [UInt16?], _ segments: [SegmentIdentity]) -> UInt16? {
        guard Int(entry.segment) < positions.count, let position = positions[Int(entry.segment)],
              Int(entry.offset) + Int(entry.length) <= segments[Int(position)].bytes else { return nil }
        return position
    }

    /// For each index id, its position in the table `ids`, or nil.
    package static func positionTable(ids: [UInt16]) -> [UInt16?] {
        var positions = [UInt16?](repeating: nil, count: Int(ids.max() ?? 0) + 1)
        for (position, id) in ids.enumerated() { positions[Int(id)] = UInt16(position) }
        return positions
    }

    /// The segment table of a hint of `size` bytes read through `read`, or why it is unusable.
    package static func segments(size: Int, read: (Range<Int>) throws -> [UInt8]) throws -> Result<[SegmentIdentity], HintFailure> {
        guard size >= headerBytes + trailerBytes else { return .failure(HintFailure(reason: "shorter than its header")) }
        let header = try read(0..<headerBytes)
        guard header.count == headerBytes, Array(header[0..<8]) == magic else {
            return .failure(HintFailure(reason: "not a hint file of this release"))
        }
        let count = Int(LittleEndian.read(header, at: 8, bytes: 4))
        guard count > 0, headerBytes + count * segmentBytes + trailerBytes <= size else {
            return .failure(HintFailure(reason: "its segment table does not fit"))
        }
        let table = try read(headerBytes..<headerBytes + count * segmentBytes)
        guard table.count == count * segmentBytes else { return .failure(HintFailure(reason: "short read")) }
        return .success(stride(from: 0, to: table.count, by: segmentBytes).map { offset in
            SegmentIdentity(sequence: UInt32(LittleEndian.read(table, at: offset, bytes: 4)), bytes: Int(LittleEndian.read(table, at: offset + 4, bytes: 8)),
                            tailCRC: UInt32(LittleEndian.read(table, at: offset + 12, bytes: 4)))
        })
    }

    /// Loads the entries of a hint of `size` bytes into the empty `index`: an entry's segment
    /// position p becomes the index id `ids[p]`, and must lie within `segmentBytes[p]` (the
    /// bytes the table describes, which the caller checked against the segment). Returns the entries loaded, or why the hint is unusable (the index
    /// then holds a partial load: the caller starts over with a fresh one). The segment table
    /// must have been checked against the log first (`segments`, then the caller).
    package static func load(size: Int, read: (Range<Int>) throws -> [UInt8], ids: [UInt16], segmentBytes sizes: [Int],
                             into index: KeyValueIndex, chunkBytes: Int = Limits.hintChunkBytes) throws -> Result<Int, HintFailure> {
        let start = headerBytes + ids.count * segmentBytes
        guard size >= start + trailerBytes, (size - start - trailerBytes) % entryBytes == 0 else {
            return .failure(HintFailure(reason: "its length is not a whole number of entries"))
        }
        let count = (size - start - trailerBytes) / entryBytes
        var crc = CRC32C.update(0, try read(0..<start), 0..<start)
        let perChunk = max(1, chunkBytes / entryBytes)
        var loaded = 0
        index.reserveCapacity(count)
        while loaded < count {
            let batch = min(perChunk, count - loaded)
            let first = start + loaded * entryBytes
            let bytes = try read(first..<first + batch * entryBytes)
            guard bytes.count == batch * entryBytes else { return .failure(HintFailure(reason: "short read")) }
            crc = CRC32C.update(crc, bytes, 0..<bytes.count)
            for offset in stride(from: 0, to: bytes.count, by: entryBytes) {
                let (position, entry) = decodeEntry(bytes, at: offset)
                // A place past its segment would be read past the end: refuse before anything reads it.
                guard Int(position) < ids.count, entry.length > 0, Int(entry.offset) + Int(entry.length) <= sizes[Int(position)] else {
                    return .failure(HintFailure(reason: "an entry points past its segment"))
                }
                var placed = entry
                placed.segment = ids[Int(position)]
                index.insertLoaded(placed)
            }
            loaded += batch
        }
        let trailer = try read(size - trailerBytes..<size)
        guard trailer.count == trailerBytes else { return .failure(HintFailure(reason: "short read")) }
        crc = CRC32C.update(crc, trailer, 0..<8)
        guard LittleEndian.read(trailer, at: 0, bytes: 8) == UInt64(count), UInt32(LittleEndian.read(trailer, at: 8, bytes: 4)) == crc else {
            return .failure(HintFailure(reason: "checksum mismatch"))
        }
        return .success(loaded)
    }

    /// The entry at `offset` of `bytes` and its segment's position in the table (the entry's
    /// `segment` is left 0).
    package static func decodeEntry(_ bytes: [UInt8], at offset: Int) -> (position: UInt16, entry: IndexEntry) {
        let entry = IndexEntry(fingerprint: LittleEndian.read(bytes, at: offset, bytes: 8), version: LittleEndian.read(bytes, at: offset + 8, bytes: 8),
                               tieBreakHigh: UInt32(LittleEndian.read(bytes, at: offset + 24, bytes: 4)),
                               location: RecordLocation(segment: 0, offset: UInt32(LittleEndian.read(bytes, at: offset + 18, bytes: 4)),
                                                        length: UInt16(LittleEndian.read(bytes, at: offset + 22, bytes: 2))))
        return (UInt16(LittleEndian.read(bytes, at: offset + 16, bytes: 2)), entry)
    }
}
