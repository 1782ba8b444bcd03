// The node's internal `/_/kv` routes, used by the proxy (docs/PROTOCOL.md):
//
//   GET    /_/kv?short=S                 → 200 body L, X-Version: V   | 404 (X-Version of a tombstone, or 0)
//   PUT    /_/kv?v=V&short=S&long=L      → 200 "existed"/"absent" once durable (last writer wins)
//   DELETE /_/kv?v=V&short=S             → 200 "existed"/"absent" once the tombstone is durable
//
// V is the decimal 64-bit version minted by the proxy. The rest of the query follows the
// public rules (long runs to the end, both percent-decoded and validated).

public enum InternalRequest: Sendable, Equatable {
    case read(key: [UInt8])
    case write(LogRecord)

    private static let versionPrefix: [UInt8] = Array("v=".utf8)

    public static func parse(_ method: HTTPMethod, _ buffer: [UInt8], query: Range<Int>?) -> Result<InternalRequest, HTTPParseFailure> {
        guard let query else { return .failure(HTTPParseFailure(.badRequest, "The internal route needs a query.")) }
        switch method {
        case .get, .head:
            return ShortLongQuery.parseShortOnly(buffer, query).map { .read(key: $0) }
        case .put, .delete:
            guard let (version, rest) = parseVersion(buffer, query) else {
                return .failure(HTTPParseFailure(.badRequest, "A versioned write starts with v=VERSION&."))
            }
            if method == .put {
                return ShortLongQuery.parse(buffer, rest).map {
                    .write(LogRecord(version: version, op: .put, key: $0.short, value: $0.long))
                }
            }
            return ShortLongQuery.parseShortOnly(buffer, rest).map { .write(LogRecord(version: version, op: .delete, key: $0)) }
        default:
            return .failure(HTTPParseFailure(.methodNotAllowed, "Allowed methods are GET, PUT, DELETE."))
        }
    }

    /// `v=DIGITS&` at the start of the query: the version and the rest of the query.
    private static func parseVersion(_ buffer: [UInt8], _ query: Range<Int>) -> (UInt64, Range<Int>)? {
        guard ShortLongQuery.hasPrefix(buffer, query, versionPrefix) else { return nil }
        var index = query.lowerBound + versionPrefix.count
        var version: UInt64 = 0
        let digitsStart = index
        while index < query.upperBound, ASCII.isDigit(buffer[index]) {
            let (times10, overflow1) = version.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(buffer[index] - ASCII.digit0))
            if overflow1 || overflow2 { return nil }
            version = sum
            index += 1
        }
        guard index > digitsStart, version > 0, index < query.upperBound, buffer[index] == ASCII.ampersand else { return nil }
        return (version, index + 1..<query.upperBound)
    }
}

public enum ConstantTime {
    /// Compares `buffer[range]` with `expected` in time that depends only on the lengths.
    public static func equals(_ buffer: [UInt8], _ range: Range<Int>, _ expected: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: range.count ^ expected.count)
        if range.count != expected.count { difference |= 1 }
        for offset in 0..<expected.count {
            let given = offset < range.count ? buffer[range.lowerBound + offset] : 0
            difference |= given ^ expected[offset]
        }
        return difference == 0
    }
}
