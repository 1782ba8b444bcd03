// The hint file: the index as a clean shutdown leaves it, so a restart loads it instead of
// replaying the log (docs/PROTOCOL.md "Hint file"; Bitcask's hint files, but of the whole
// index and without keys, which stay in the log).
//
//   file  = "LRHINT01" logBytes:u64le logTailCRC:u32le entries:u64le entry* crc:u32le
//   entry = fingerprint:u64le version:u64le offset:u32le length:u16le tieBreakHigh:u32le  (26 bytes)
//
// `crc` is the CRC32C of every byte before it. `logBytes` and `logTailCRC` (the CRC32C of the
// log's last `tailCheckBytes` bytes) name the log the hint describes: a hint for any other
// log (appended to, compacted, restored from elsewhere) is stale. Offsets are in the log
// (segment 0 at start-up). Writing and loading stream in chunks of `Limits.hintChunkBytes`,
// so neither holds the whole file. A hint that is missing, stale, short or fails its CRC is
// not used: the caller replays the log and says why (HintFailure).

package enum HintFile {
    package static let magic: [UInt8] = Array("LRHINT01".utf8)
    package static let headerBytes = 8 + 8 + 4 + 8
    package static let entryBytes = 26
    package static let checksumBytes = 4
    /// Bytes at the end of the log whose CRC the hint carries.
    package static let tailCheckBytes = 4096

    /// The log a hint describes: its size and the CRC32C of its last bytes.
    package struct LogIdentity: Sendable, Equatable {
        package var logBytes: Int
        package var tailCRC: UInt32

        package init(logBytes: Int, tailCRC: UInt32) {
            self.logBytes = logBytes
            self.tailCRC = tailCRC
        }

        /// The range of the log `tailCRC` covers.
        package static func tailRange(logBytes: Int) -> Range<Int> { max(0, logBytes - tailCheckBytes)..<logBytes }
    }

    package struct HintFailure: Error, Sendable, Equatable {
        package var reason: String
    }

    /// Writes the hint of `index` (over `log`) through `emit`, in chunks.
    package static func write(_ index: KeyValueIndex, log: LogIdentity, chunkBytes: Int = Limits.hintChunkBytes,
                              emit: ([UInt8]) throws -> Void) throws {
        var chunk = magic
        LittleEndian.append(UInt64(log.logBytes), bytes: 8, to: &chunk)
        LittleEndian.append(UInt64(log.tailCRC), bytes: 4, to: &chunk)
        LittleEndian.append(UInt64(index.count), bytes: 8, to: &chunk)
        var crc: UInt32 = 0
        try index.forEachEntry { entry in
            LittleEndian.append(entry.fingerprint, bytes: 8, to: &chunk)
            LittleEndian.append(entry.version, bytes: 8, to: &chunk)
            LittleEndian.append(UInt64(entry.offset), bytes: 4, to: &chunk)
            LittleEndian.append(UInt64(entry.length), bytes: 2, to: &chunk)
            LittleEndian.append(UInt64(entry.tieBreakHigh), bytes: 4, to: &chunk)
            if chunk.count >= chunkBytes {
                crc = CRC32C.update(crc, chunk, 0..<chunk.count)
                try emit(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        crc = CRC32C.update(crc, chunk, 0..<chunk.count)
        LittleEndian.append(UInt64(crc), bytes: 4, to: &chunk)
        try emit(chunk)
    }

    /// Loads a hint of `size` bytes, read through `read`, into the empty `index` (segment
    /// `segment`), if it describes `log`; returns the entries loaded or why the hint is unusable
    /// (the index then holds a partial load: the caller starts over with a fresh one).
    package static func load(size: Int, read: (Range<Int>) throws -> [UInt8], describing log: LogIdentity, segment: UInt16,
                             into index: KeyValueIndex, chunkBytes: Int = Limits.hintChunkBytes) throws -> Result<Int, HintFailure> {
        guard size >= headerBytes + checksumBytes else { return .failure(HintFailure(reason: "shorter than its header")) }
        let header = try read(0..<headerBytes)
        guard header.count == headerBytes, Array(header[0..<8]) == magic else { return .failure(HintFailure(reason: "not a hint file")) }
        let described = LogIdentity(logBytes: Int(LittleEndian.read(header, at: 8, bytes: 8)),
                                    tailCRC: UInt32(LittleEndian.read(header, at: 16, bytes: 4)))
        let count = LittleEndian.read(header, at: 20, bytes: 8)
        guard described == log else {
            return .failure(HintFailure(reason: "stale: it describes a log of \(described.logBytes) bytes, the log has \(log.logBytes)"
                + (described.logBytes == log.logBytes ? " with other last bytes" : "")))
        }
        guard count <= UInt64(Int.max / entryBytes), headerBytes + Int(count) * entryBytes + checksumBytes == size else {
            return .failure(HintFailure(reason: "its length does not match its \(count) entries"))
        }
        var crc = CRC32C.update(0, header, 0..<headerBytes)
        let perChunk = max(1, chunkBytes / entryBytes)
        var loaded = 0
        index.reserveCapacity(Int(count))
        while loaded < Int(count) {
            let batch = min(perChunk, Int(count) - loaded)
            let start = headerBytes + loaded * entryBytes
            let bytes = try read(start..<start + batch * entryBytes)
            guard bytes.count == batch * entryBytes else { return .failure(HintFailure(reason: "short read")) }
            crc = CRC32C.update(crc, bytes, 0..<bytes.count)
            for offset in stride(from: 0, to: bytes.count, by: entryBytes) {
                let entry = decodeEntry(bytes, at: offset, segment: segment)
                // A place past the log would be read past its end: refuse before anything reads it.
                guard Int(entry.offset) + Int(entry.length) <= log.logBytes, entry.length > 0 else {
                    return .failure(HintFailure(reason: "an entry points past the log"))
                }
                index.insertLoaded(entry)
            }
            loaded += batch
        }
        let trailer = try read(size - checksumBytes..<size)
        guard trailer.count == checksumBytes, UInt32(LittleEndian.read(trailer, at: 0, bytes: 4)) == crc else {
            return .failure(HintFailure(reason: "checksum mismatch"))
        }
        return .success(loaded)
    }

    package static func decodeEntry(_ bytes: [UInt8], at offset: Int, segment: UInt16) -> IndexEntry {
        IndexEntry(fingerprint: LittleEndian.read(bytes, at: offset, bytes: 8), version: LittleEndian.read(bytes, at: offset + 8, bytes: 8),
                   tieBreakHigh: UInt32(LittleEndian.read(bytes, at: offset + 22, bytes: 4)),
                   location: RecordLocation(segment: segment, offset: UInt32(LittleEndian.read(bytes, at: offset + 16, bytes: 4)),
                                            length: UInt16(LittleEndian.read(bytes, at: offset + 20, bytes: 2))))
    }
}
