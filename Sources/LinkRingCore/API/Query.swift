// Query strings of the public API: percent-decoding, the short/long rule, and validation.
//
// The original server's rule: `short` comes first and runs to the first `&`; `long` runs to the
// END of the query, so `long=http://x/?a=1&b=2` keeps its own `&`. The other order
// (`long=…&short=S`) is read by taking the LAST `&short=`: a short name cannot contain `&`, so
// that split is the only one that leaves a valid name.
//
// S is percent-decoded, then must be 1–128 bytes of `A–Z a–z 0–9 - _ . ~`, and not `.` or `..`.
// L is kept exactly as sent (`?q=a%26b` stays `?q=a%26b`: decoding it would make another URL),
// unless it arrived wholly percent-encoded, its scheme's colon itself encoded
// (`https%3A%2F%2F…`, what HTML forms and Python requests' `params=` send): that value is
// form-decoded once (`%XX` → byte, `+` → space). Then L must pass `LongURLRules`.

package enum PercentDecoding {
    /// Decodes `%XX` escapes; `+` stays `+` unless `plusIsSpace` (form encoding). Nil when a
    /// `%` is not followed by two hex digits.
    package static func decode(_ buffer: [UInt8], _ range: Range<Int>, plusIsSpace: Bool = false) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = buffer[index]
            if byte != ASCII.percent {
                output.append(plusIsSpace && byte == ASCII.plus ? ASCII.space : byte)
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

    /// True when `buffer[range]` is a wholly percent-encoded URL: a scheme name, then `%3A`.
    static func isWhollyEncodedURL(_ buffer: [UInt8], _ range: Range<Int>) -> Bool {
        let colon = LongURL.schemeNameEnd(buffer, range)
        return colon > range.lowerBound && colon + 3 <= range.upperBound && buffer[colon] == ASCII.percent
            && buffer[colon + 1] == ASCII.digit0 + 3 && buffer[colon + 2] | 0x20 == 0x61  // "3A" or "3a"
    }

    /// Encodes every byte that is not unreserved as `%XX` (for building internal queries).
    package static func encode(_ bytes: [UInt8], into output: inout [UInt8]) {
        for byte in bytes {
            if ASCII.isUnreserved(byte) {
                output.append(byte)
            } else {
                appendEscape(byte, to: &output)
            }
        }
    }

    /// Appends `%XX` for `byte` (upper-case hex digits).
    @inline(__always)
    static func appendEscape(_ byte: UInt8, to output: inout [UInt8]) {
        output.append(ASCII.percent)
        output.append(hexDigit(byte >> 4))
        output.append(hexDigit(byte & 0x0F))
    }

    @inline(__always)
    private static func hexDigit(_ value: UInt8) -> UInt8 { value < 10 ? ASCII.digit0 + value : 0x41 + value - 10 }
}

package enum KeyValidation {
    /// Nil when `short` is a valid short name, else the reason.
    package static func problem(short: [UInt8]) -> String? {
        if short.isEmpty { return "The short name is empty." }
        if short.count > Limits.shortBytesMax { return "The short name is longer than \(Limits.shortBytesMax) bytes." }
        for byte in short where !ASCII.isUnreserved(byte) {
            return "The short name may contain only A-Z a-z 0-9 - _ . ~"
        }
        if short.count <= 2 && short.allSatisfy({ $0 == ASCII.dot }) {
            return "The short name may not be . or .. (browsers and curl remove such path segments, so it could never be read)."
        }
        if short == FixedResource.faviconName || short == FixedResource.robotsName {
            return "The short names favicon.ico and robots.txt are reserved: browsers and crawlers ask for those files."
        }
        return nil
    }
}

/// A validated `short → long` pair.
package struct ShortLong: Sendable, Equatable {
    package var short: [UInt8]
    package var long: [UInt8]

    package init(short: [UInt8], long: [UInt8]) {
        self.short = short
        self.long = long
    }
}

package enum ShortLongQuery {
    private static let shortPrefix: [UInt8] = Array("short=".utf8)
    private static let longPrefix: [UInt8] = Array("long=".utf8)
    private static let ampShortPrefix: [UInt8] = Array("&short=".utf8)

    /// Parses `short=S&long=L` or `long=L&short=S` from `buffer[range]` (the part after `?`);
    /// L must pass `rules`.
    package static func parse(_ buffer: [UInt8], _ range: Range<Int>, rules: LongURLRules) -> Result<ShortLong, HTTPParseFailure> {
        if hasPrefix(buffer, range, shortPrefix) {
            return parseShortFirst(buffer, range, rules)
        }
        if hasPrefix(buffer, range, longPrefix) {
            return parseLongFirst(buffer, range, rules)
        }
        return .failure(HTTPParseFailure(.badRequest, "The query must be short=S&long=L."))
    }

    /// Parses `short=S` alone (for delete and read routes that take a query).
    package static func parseShortOnly(_ buffer: [UInt8], _ range: Range<Int>) -> Result<[UInt8], HTTPParseFailure> {
        parseName(buffer, range, parameter: "short")
    }

    /// Parses `PARAMETER=S` (the whole query) where S is a short name.
    package static func parseName(_ buffer: [UInt8], _ range: Range<Int>, parameter: String) -> Result<[UInt8], HTTPParseFailure> {
        let prefix = Array((parameter + "=").utf8)
        guard hasPrefix(buffer, range, prefix) else {
            return .failure(HTTPParseFailure(.badRequest, "The query must be \(parameter)=S."))
        }
        if buffer[range].contains(ASCII.ampersand) {
            return .failure(HTTPParseFailure(.badRequest, "The query must be \(parameter)=S alone: it has a second or repeated parameter."))
        }
        return decodeShort(buffer, range.lowerBound + prefix.count..<range.upperBound)
    }

    private static func parseShortFirst(_ buffer: [UInt8], _ range: Range<Int>, _ rules: LongURLRules) -> Result<ShortLong, HTTPParseFailure> {
        let shortStart = range.lowerBound + shortPrefix.count
        var ampersand = shortStart
        while ampersand < range.upperBound, buffer[ampersand] != ASCII.ampersand { ampersand += 1 }
        let rest = min(ampersand + 1, range.upperBound)..<range.upperBound
        guard ampersand < range.upperBound, hasPrefix(buffer, rest, longPrefix) else {
            return .failure(HTTPParseFailure(.badRequest, "The query must be short=S&long=L (long= is missing)."))
        }
        return combine(decodeShort(buffer, shortStart..<ampersand),
                       buffer, rest.lowerBound + longPrefix.count..<range.upperBound, rules)
    }

    private static func parseLongFirst(_ buffer: [UInt8], _ range: Range<Int>, _ rules: LongURLRules) -> Result<ShortLong, HTTPParseFailure> {
        guard let marker = lastOccurrence(of: ampShortPrefix, in: buffer, range) else {
            return .failure(HTTPParseFailure(.badRequest, "The query must be long=L&short=S (short= is missing)."))
        }
        let short = decodeShort(buffer, marker + ampShortPrefix.count..<range.upperBound)
        return combine(short, buffer, range.lowerBound + longPrefix.count..<marker, rules)
    }

    private static func combine(_ short: Result<[UInt8], HTTPParseFailure>, _ buffer: [UInt8], _ longRange: Range<Int>,
                                _ rules: LongURLRules) -> Result<ShortLong, HTTPParseFailure> {
        switch short {
        case .failure(let failure): return .failure(failure)
        case .success(let shortBytes): return readLong(buffer, longRange, rules).map { ShortLong(short: shortBytes, long: $0) }
        }
    }

    /// L as sent, or form-decoded once when it arrived wholly percent-encoded; then checked.
    static func readLong(_ buffer: [UInt8], _ range: Range<Int>, _ rules: LongURLRules) -> Result<[UInt8], HTTPParseFailure> {
        let isEncoded = PercentDecoding.isWhollyEncodedURL(buffer, range)
        guard let long = isEncoded ? PercentDecoding.decode(buffer, range, plusIsSpace: true) : Array(buffer[range]) else {
            return .failure(HTTPParseFailure(.badRequest, "The long URL arrived percent-encoded but has an invalid percent-escape.",
                                             offending: Array(buffer[range])))
        }
        if let problem = rules.problem(long, arrivedPercentEncoded: isEncoded) {
            return .failure(HTTPParseFailure(.badRequest, problem, offending: Array(buffer[range])))
        }
        return .success(long)
    }

    static func decodeShort(_ buffer: [UInt8], _ range: Range<Int>) -> Result<[UInt8], HTTPParseFailure> {
        guard let short = PercentDecoding.decode(buffer, range) else {
            return .failure(HTTPParseFailure(.badRequest, "The short name has an invalid percent-escape.", offending: Array(buffer[range])))
        }
        if let problem = KeyValidation.problem(short: short) {
            return .failure(HTTPParseFailure(.badRequest, problem, offending: Array(buffer[range])))
        }
        return .success(short)
    }

    /// The value of `long=L` when the query has no `short` (a PUT that asks for a generated
    /// name): `long` runs to the end of the query, as always. Nil for any other query.
    static func longWithoutShort(_ buffer: [UInt8], _ range: Range<Int>) -> Range<Int>? {
        guard hasPrefix(buffer, range, longPrefix), lastOccurrence(of: ampShortPrefix, in: buffer, range) == nil else { return nil }
        return range.lowerBound + longPrefix.count..<range.upperBound
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
