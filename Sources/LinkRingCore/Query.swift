// Query strings of the public API: percent-decoding, the short/long rule, and validation.
//
// The original server's rule: `short` comes first and runs to the first `&`; `long` runs to the
// END of the query, so `long=http://x/?a=1&b=2` keeps its own `&`. The other order
// (`long=…&short=S`) is read by taking the LAST `&short=`: a short name cannot contain `&`, so
// that split is the only one that leaves a valid name. Both values are percent-decoded, then
// validated: S is 1–128 bytes of `A–Z a–z 0–9 - _ . ~`; L is 1–4096 bytes with no control byte
// and no space (so nothing in L can ever break a header line).

public enum PercentDecoding {
    /// Decodes `%XX` escapes; `+` stays `+`. Nil when a `%` is not followed by two hex digits.
    public static func decode(_ buffer: [UInt8], _ range: Range<Int>) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = buffer[index]
            if byte != ASCII.percent {
                output.append(byte)
                index += 1
                continue
            }
            guard index + 2 < range.upperBound,
                  let high = ASCII.hexValue(buffer[index + 1]), let low = ASCII.hexValue(buffer[index + 2]) else {
                return nil
            }
            output.append(high << 4 | low)
            index += 3
        }
        return output
    }

    /// Encodes every byte that is not unreserved as `%XX` (for building internal queries).
    public static func encode(_ bytes: [UInt8], into output: inout [UInt8]) {
        for byte in bytes {
            if ASCII.isUnreserved(byte) {
                output.append(byte)
            } else {
                output.append(ASCII.percent)
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}

public enum KeyValidation {
    /// Nil when `short` is a valid short name, else the reason.
    public static func problem(short: [UInt8]) -> String? {
        if short.isEmpty { return "The short name is empty." }
        if short.count > Limits.shortBytesMax { return "The short name is longer than \(Limits.shortBytesMax) bytes." }
        for byte in short where !ASCII.isUnreserved(byte) {
            return "The short name may contain only A-Z a-z 0-9 - _ . ~"
        }
        return nil
    }

    /// Nil when `long` is a valid long URL, else the reason.
    public static func problem(long: [UInt8]) -> String? {
        if long.isEmpty { return "The long URL is empty." }
        if long.count > Limits.longBytesMax { return "The long URL is longer than \(Limits.longBytesMax) bytes." }
        for byte in long where ASCII.isControl(byte) || byte == ASCII.space {
            return "The long URL may not contain spaces or control characters."
        }
        return nil
    }
}

/// A validated `short → long` pair.
public struct ShortLong: Sendable, Equatable {
    public var short: [UInt8]
    public var long: [UInt8]

    public init(short: [UInt8], long: [UInt8]) {
        self.short = short
        self.long = long
    }
}

public enum ShortLongQuery {
    private static let shortPrefix: [UInt8] = Array("short=".utf8)
    private static let longPrefix: [UInt8] = Array("long=".utf8)
    private static let ampShortPrefix: [UInt8] = Array("&short=".utf8)

    /// Parses `short=S&long=L` or `long=L&short=S` from `buffer[range]` (the part after `?`).
    public static func parse(_ buffer: [UInt8], _ range: Range<Int>) -> Result<ShortLong, HTTPParseFailure> {
        if hasPrefix(buffer, range, shortPrefix) {
            return parseShortFirst(buffer, range)
        }
        if hasPrefix(buffer, range, longPrefix) {
            return parseLongFirst(buffer, range)
        }
        return .failure(HTTPParseFailure(.badRequest, "The query must be short=S&long=L."))
    }

    /// Parses `short=S` alone (for delete and read routes that take a query).
    public static func parseShortOnly(_ buffer: [UInt8], _ range: Range<Int>) -> Result<[UInt8], HTTPParseFailure> {
        parseName(buffer, range, parameter: "short")
    }

    /// Parses `PARAMETER=S` (the whole query) where S is a short name.
    public static func parseName(_ buffer: [UInt8], _ range: Range<Int>, parameter: String) -> Result<[UInt8], HTTPParseFailure> {
        let prefix = Array((parameter + "=").utf8)
        guard hasPrefix(buffer, range, prefix) else {
            return .failure(HTTPParseFailure(.badRequest, "The query must be \(parameter)=S."))
        }
        return decodeShort(buffer, range.lowerBound + prefix.count..<range.upperBound)
    }

    private static func parseShortFirst(_ buffer: [UInt8], _ range: Range<Int>) -> Result<ShortLong, HTTPParseFailure> {
        let shortStart = range.lowerBound + shortPrefix.count
        var ampersand = shortStart
        while ampersand < range.upperBound, buffer[ampersand] != ASCII.ampersand { ampersand += 1 }
        let rest = min(ampersand + 1, range.upperBound)..<range.upperBound
        guard ampersand < range.upperBound, hasPrefix(buffer, rest, longPrefix) else {
            return .failure(HTTPParseFailure(.badRequest, "The query must be short=S&long=L (long= is missing)."))
        }
        return combine(decodeShort(buffer, shortStart..<ampersand),
                       buffer, rest.lowerBound + longPrefix.count..<range.upperBound)
    }

    private static func parseLongFirst(_ buffer: [UInt8], _ range: Range<Int>) -> Result<ShortLong, HTTPParseFailure> {
        guard let marker = lastOccurrence(of: ampShortPrefix, in: buffer, range) else {
            return .failure(HTTPParseFailure(.badRequest, "The query must be long=L&short=S (short= is missing)."))
        }
        let short = decodeShort(buffer, marker + ampShortPrefix.count..<range.upperBound)
        return combine(short, buffer, range.lowerBound + longPrefix.count..<marker)
    }

    private static func combine(_ short: Result<[UInt8], HTTPParseFailure>, _ buffer: [UInt8], _ longRange: Range<Int>) -> Result<ShortLong, HTTPParseFailure> {
        switch short {
        case .failure(let failure): return .failure(failure)
        case .success(let shortBytes):
            guard let long = PercentDecoding.decode(buffer, longRange) else {
                return .failure(HTTPParseFailure(.badRequest, "The long URL has an invalid percent-escape."))
            }
            if let problem = KeyValidation.problem(long: long) { return .failure(HTTPParseFailure(.badRequest, problem)) }
            return .success(ShortLong(short: shortBytes, long: long))
        }
    }

    static func decodeShort(_ buffer: [UInt8], _ range: Range<Int>) -> Result<[UInt8], HTTPParseFailure> {
        guard let short = PercentDecoding.decode(buffer, range) else {
            return .failure(HTTPParseFailure(.badRequest, "The short name has an invalid percent-escape."))
        }
        if let problem = KeyValidation.problem(short: short) { return .failure(HTTPParseFailure(.badRequest, problem)) }
        return .success(short)
    }

    static func hasPrefix(_ buffer: [UInt8], _ range: Range<Int>, _ prefix: [UInt8]) -> Bool {
        range.count >= prefix.count && ASCII.equals(buffer, range.lowerBound..<range.lowerBound + prefix.count, prefix)
    }

    private static func lastOccurrence(of needle: [UInt8], in buffer: [UInt8], _ range: Range<Int>) -> Int? {
        var start = range.upperBound - needle.count
        while start >= range.lowerBound {
            if ASCII.equals(buffer, start..<start + needle.count, needle) { return start }
            start -= 1
        }
        return nil
    }
}
