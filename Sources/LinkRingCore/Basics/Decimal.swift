// Decimal digits of unsigned integers, both ways, on bytes: appending without String
// formatting (on every response and every internal request) and parsing a run of digits
// (Content-Length, X-Version, query numbers) with overflow refused.

package enum Decimal {
    /// Appends the decimal digits of a non-negative integer.
    package static func append(_ value: Int, to output: inout [UInt8]) {
        append(UInt64(max(value, 0)), to: &output)
    }

    /// Digits come out lowest first by dividing by the constant 10 (a multiply, where dividing
    /// by a variable power of ten is a slow 64-bit division per digit: X-Version has 19).
    package static func append(_ value: UInt64, to output: inout [UInt8]) {
        if value < 10 {
            output.append(ASCII.digit0 + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &digits) { buffer in
            var rest = value
            var position = buffer.count
            while rest > 0 {
                position -= 1
                buffer[position] = ASCII.digit0 + UInt8(rest % 10)
                rest /= 10
            }
            output.append(contentsOf: buffer[position...])
        }
    }

    /// The value of the digits `buffer[range]` (1–20 of them); nil for anything else or an overflow.
    package static func parse(_ buffer: [UInt8], _ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 20 else { return nil }
        var value: UInt64 = 0
        for index in range {
            guard ASCII.isDigit(buffer[index]) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(buffer[index] - ASCII.digit0))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }
}
