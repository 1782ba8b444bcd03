// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8, in pure Swift.
// Every log record ends with the CRC32C of everything before it in the record.

package enum CRC32C {
    /// Eight 256-entry tables, flat: `tables[k * 256 + byte]`.
    private static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = table[(slice - 1) * 256 + byte]
                table[slice * 256 + byte] = (previous >> 8) ^ table[Int(previous & 0xFF)]
            }
        }
        return table
    }()

    static func checksum(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        update(0, bytes, range)
    }

    package static func checksum(_ bytes: [UInt8]) -> UInt32 { update(0, bytes, 0..<bytes.count) }

    /// Continues a checksum over more bytes.
    package static func update(_ crcSoFar: UInt32, _ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
        let table = tables
        var crc = ~crcSoFar
        var index = range.lowerBound
        while range.upperBound - index >= 8 {
            let low = crc ^ (UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                             | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24)
            crc = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                ^ table[3 * 256 + Int(bytes[index + 4])] ^ table[2 * 256 + Int(bytes[index + 5])]
                ^ table[1 * 256 + Int(bytes[index + 6])] ^ table[Int(bytes[index + 7])]
            index += 8
        }
        while index < range.upperBound {
            crc = (crc >> 8) ^ table[Int((crc ^ UInt32(bytes[index])) & 0xFF)]
            index += 1
        }
        return ~crc
    }
}
