// Little-endian integers in byte arrays: the log records' and the repair bodies' fields.

package enum LittleEndian {
    @inline(__always)
    package static func append(_ value: UInt64, bytes: Int, to output: inout [UInt8]) {
        for shift in 0..<bytes { output.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) }
    }

    @inline(__always)
    package static func read(_ input: [UInt8], at offset: Int, bytes: Int) -> UInt64 {
        var value: UInt64 = 0
        for shift in 0..<bytes { value |= UInt64(input[offset + shift]) << (8 * shift) }
        return value
    }
}
