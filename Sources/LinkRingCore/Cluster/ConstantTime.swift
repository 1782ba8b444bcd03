// Comparison of secrets in time that depends only on their lengths, so that the time a node
// takes to refuse a cluster token tells an attacker nothing about how much of it was right.

package enum ConstantTime {
    /// Compares `buffer[range]` with `expected` in time that depends only on the lengths.
    package static func equals(_ buffer: [UInt8], _ range: Range<Int>, _ expected: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: range.count ^ expected.count)
        if range.count != expected.count { difference |= 1 }
        for offset in 0..<expected.count {
            let given = offset < range.count ? buffer[range.lowerBound + offset] : 0
            difference |= given ^ expected[offset]
        }
        return difference == 0
    }
}
