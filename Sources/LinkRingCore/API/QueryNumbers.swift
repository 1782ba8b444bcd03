// Numeric query parameters of internal routes, in a fixed order: `r=12&from=3400`.

package enum QueryNumbers {
    /// The values of `names`, which must appear exactly in this order and nothing else.
    package static func parse(_ buffer: [UInt8], _ range: Range<Int>?, names: [String]) -> [UInt64]? {
        guard let range else { return nil }
        var values: [UInt64] = []
        var offset = range.lowerBound
        for (position, name) in names.enumerated() {
            let prefix = Array((position == 0 ? "" : "&").utf8) + Array(name.utf8) + [ASCII.equals]
            guard ShortLongQuery.hasPrefix(buffer, offset..<range.upperBound, prefix) else { return nil }
            offset += prefix.count
            var end = offset
            while end < range.upperBound, buffer[end] != ASCII.ampersand { end += 1 }
            guard let value = Decimal.parse(buffer, offset..<end) else { return nil }
            values.append(value)
            offset = end
        }
        return offset == range.upperBound ? values : nil
    }
}
