// Where a record lives in a node's log, and what reads it back.
//
// The index keeps no keys and no values: per key it keeps a `RecordLocation` (which segment of
// the log, the byte offset in it, the record's length) and reads the record through a
// `RecordSource` when it needs the key (to tell two keys with one fingerprint apart) or the
// value (a GET). A record holds its key and value and ends with its CRC32C, so one read gets
// everything and proves it is the record that was written.
//
//   segment u16   an id of an open segment file (ids are the node's, not persisted: the
//                 segment table maps them to files)
//   offset  u32   the record's first byte in that file: a segment holds at most 4 GiB
//                 (`Limits.segmentBytesMax`)
//   length  u16   the record's bytes: at most 16 + 128 + 4096 + 4 for a URL (`Limits`
//                 checks that every record a node accepts fits)
//
// `RecordsInMemory` is a source over byte arrays: the index's unit tests, and any code that
// has a log in memory, use it.

package struct RecordLocation: Sendable, Equatable, Hashable {
    package var segment: UInt16
    package var offset: UInt32
    package var length: UInt16

    package init(segment: UInt16, offset: UInt32, length: UInt16) {
        self.segment = segment
        self.offset = offset
        self.length = length
    }

    /// The location of a record of `length` bytes at `offset`, or nil when either does not fit.
    package init?(segment: UInt16, offset: Int, length: Int) {
        guard offset >= 0, offset <= Int(UInt32.max), length > 0, length <= Int(UInt16.max) else { return nil }
        self.init(segment: segment, offset: UInt32(offset), length: UInt16(length))
    }
}

/// Reads records back for the index (pread of a segment in the node, arrays in tests).
package protocol RecordSource: AnyObject {
    /// Replaces `buffer` with the bytes at `location` and says whether they are exactly one
    /// whole record with its CRC right (LogRecord.isWhole). The buffer is the caller's to
    /// reuse: a GET allocates nothing here.
    func read(_ location: RecordLocation, into buffer: inout [UInt8]) -> Bool
}

extension RecordSource {
    /// The whole record at `location`, its CRC checked; nil when it cannot be read.
    package func record(at location: RecordLocation) -> LogRecord? {
        var bytes: [UInt8] = []
        guard read(location, into: &bytes) else { return nil }
        return LogRecord.decodeWhole(bytes)
    }
}

extension LogRecord {
    /// The record that is exactly `bytes` (one whole record, CRC checked), or nil.
    package static func decodeWhole(_ bytes: [UInt8]) -> LogRecord? {
        guard isWhole(bytes), case .record(let record, _) = decode(bytes, at: 0) else { return nil }
        return record
    }

    /// Whether `bytes` is exactly one record: magic, a known op, lengths that add up, its CRC.
    package static func isWhole(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= headerBytes + checksumBytes, bytes[0] == recordMagic, LogOp(rawValue: bytes[1]) != nil else { return false }
        let end = headerBytes + keyLength(bytes) + valueLength(bytes)
        guard keyLength(bytes) > 0, end + checksumBytes == bytes.count else { return false }
        return CRC32C.checksum(bytes, 0..<end) == UInt32(LittleEndian.read(bytes, at: end, bytes: 4))
    }

    /// Whether the whole record `bytes` holds `key`.
    package static func holds(_ key: [UInt8], _ bytes: [UInt8]) -> Bool {
        guard keyLength(bytes) == key.count else { return false }
        for index in 0..<key.count where bytes[headerBytes + index] != key[index] { return false }
        return true
    }

    /// The value of the whole record `bytes` (empty for a delete or forget).
    package static func value(of bytes: [UInt8]) -> [UInt8] {
        let start = headerBytes + keyLength(bytes)
        return Array(bytes[start..<start + valueLength(bytes)])
    }

    /// The op of the whole record `bytes`.
    package static func op(of bytes: [UInt8]) -> LogOp? { LogOp(rawValue: bytes[1]) }

    /// The version of the whole record `bytes`.
    package static func version(of bytes: [UInt8]) -> UInt64 { LittleEndian.read(bytes, at: 8, bytes: 8) }

    private static func keyLength(_ bytes: [UInt8]) -> Int { Int(LittleEndian.read(bytes, at: 2, bytes: 2)) }
    private static func valueLength(_ bytes: [UInt8]) -> Int { Int(LittleEndian.read(bytes, at: 4, bytes: 4)) }
}

/// A log held in memory: segments of encoded records, read back by location.
package final class RecordsInMemory: RecordSource {
    package private(set) var segments: [UInt16: [UInt8]] = [:]

    package init() {}

    /// Appends `record` to `segment` and returns where it is.
    package func append(_ record: LogRecord, segment: UInt16 = 0) -> RecordLocation {
        var bytes = segments[segment] ?? []
        let start = bytes.count
        record.encode(into: &bytes)
        segments[segment] = bytes
        return RecordLocation(segment: segment, offset: start, length: bytes.count - start)!
    }

    package func read(_ location: RecordLocation, into buffer: inout [UInt8]) -> Bool {
        guard let bytes = segments[location.segment] else { return false }
        let start = Int(location.offset)
        let end = start + Int(location.length)
        guard end <= bytes.count else { return false }
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: bytes[start..<end])
        return LogRecord.isWhole(buffer)
    }

    /// Replaces a segment's bytes (tests: corrupt a record, or move records as compaction does).
    package func setSegment(_ segment: UInt16, _ bytes: [UInt8]) {
        segments[segment] = bytes
    }
}
