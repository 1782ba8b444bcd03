// One record of a node's append-only log, and its byte layout.
//
//   file   = "LINKRNG1" record*
//   record = magic:u8(0xA5) op:u8 keyBytes:u16le valueBytes:u32le version:u64le key value crc:u32le
//
// `crc` is the CRC32C of every byte of the record before it. A delete (tombstone) has no value.
// A forget (op 3) has no value either: it undoes the key's entry if that entry still has the
// record's version (a far-future version being replaced, VersionRules.swift); logs of earlier
// releases never hold one, and earlier releases refuse a log that does (unknown op).
// The checksum is verified right after reading and the record is re-verified after encoding
// in debug builds (paired assertions), so a bad encoder cannot write a record replay refuses.

package enum LogOp: UInt8, Sendable {
    case put = 1
    case delete = 2
    /// Undoes the entry of `key` if it still has this record's version (an unusable one).
    case forget = 3
}

package struct LogRecord: Sendable, Equatable {
    package var version: UInt64
    package var op: LogOp
    package var key: [UInt8]
    package var value: [UInt8]

    package init(version: UInt64, op: LogOp, key: [UInt8], value: [UInt8] = []) {
        self.version = version
        self.op = op
        self.key = key
        self.value = op == .put ? value : []
    }

    package static let fileMagic: [UInt8] = Array("LINKRNG1".utf8)
    static let recordMagic: UInt8 = 0xA5
    static let headerBytes = 16
    static let checksumBytes = 4

    /// Bytes this record takes in the log.
    package var encodedBytes: Int { Self.encodedBytes(keyBytes: key.count, valueBytes: value.count) }

    /// Bytes a record with a key and a value of these lengths takes in the log.
    package static func encodedBytes(keyBytes: Int, valueBytes: Int) -> Int { headerBytes + keyBytes + valueBytes + checksumBytes }

    package func encode(into output: inout [UInt8]) {
        let start = output.count
        output.append(Self.recordMagic)
        output.append(op.rawValue)
        LittleEndian.append(UInt64(key.count), bytes: 2, to: &output)
        LittleEndian.append(UInt64(value.count), bytes: 4, to: &output)
        LittleEndian.append(version, bytes: 8, to: &output)
        output.append(contentsOf: key)
        output.append(contentsOf: value)
        let crc = CRC32C.checksum(output, start..<output.count)
        LittleEndian.append(UInt64(crc), bytes: 4, to: &output)
        assert(Self.decode(output, at: start) == .record(self, next: output.count))
    }

    package enum Decoded: Equatable {
        case record(LogRecord, next: Int)
        /// The bytes end before the record does.
        case incomplete
        case corrupt(String)
    }

    /// Decodes the record at `offset` (which must be before the end of `bytes`).
    package static func decode(_ bytes: [UInt8], at offset: Int) -> Decoded {
        guard bytes.count - offset >= headerBytes + checksumBytes else { return .incomplete }
        guard bytes[offset] == recordMagic else { return .corrupt("bad record magic") }
        guard let op = LogOp(rawValue: bytes[offset + 1]) else { return .corrupt("unknown op \(bytes[offset + 1])") }
        let keyBytes = Int(LittleEndian.read(bytes, at: offset + 2, bytes: 2))
        let valueBytes = Int(LittleEndian.read(bytes, at: offset + 4, bytes: 4))
        guard keyBytes > 0, keyBytes <= Limits.logRecordBytesMax, valueBytes <= Limits.logRecordBytesMax,
              op == .put || valueBytes == 0 else {
            return .corrupt("impossible lengths (key \(keyBytes), value \(valueBytes))")
        }
        let end = offset + headerBytes + keyBytes + valueBytes
        guard end + checksumBytes <= bytes.count else { return .incomplete }
        let stored = UInt32(LittleEndian.read(bytes, at: end, bytes: 4))
        guard CRC32C.checksum(bytes, offset..<end) == stored else { return .corrupt("checksum mismatch") }
        let keyStart = offset + headerBytes
        let record = LogRecord(version: LittleEndian.read(bytes, at: offset + 8, bytes: 8), op: op,
                               key: Array(bytes[keyStart..<keyStart + keyBytes]),
                               value: Array(bytes[keyStart + keyBytes..<end]))
        return .record(record, next: end + checksumBytes)
    }
}
