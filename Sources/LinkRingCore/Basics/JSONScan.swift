// Reads a number or a string field out of a small JSON document without a JSON parser (the
// proxy reads each node's /_/health on every ping: bytes in, one scan, no allocation but the
// result).

/// Finding a value in a small, known JSON document (a node's /_/health) without parsing it.
package enum JSONScan {
    package static func contains(_ body: [UInt8], _ text: String) -> Bool {
        position(of: Array(text.utf8), in: body) != nil
    }

    /// The unsigned integer after `"key":`, if any.
    package static func number(_ body: [UInt8], key: String) -> UInt64? {
        let pattern = Array("\"\(key)\":".utf8)
        guard let start = position(of: pattern, in: body) else { return nil }
        var end = start + pattern.count
        while end < body.count, ASCII.isDigit(body[end]) { end += 1 }
        return Decimal.parse(body, start + pattern.count..<end)
    }

    /// The string after `"key":"`, up to its closing quote (at most `bytesMax` bytes, no escapes).
    package static func string(_ body: [UInt8], key: String, bytesMax: Int) -> String? {
        let pattern = Array("\"\(key)\":\"".utf8)
        guard let start = position(of: pattern, in: body) else { return nil }
        let valueStart = start + pattern.count
        var end = valueStart
        while end < body.count, body[end] != UInt8(ascii: "\""), body[end] != UInt8(ascii: "\\") {
            end += 1
            if end - valueStart > bytesMax { return nil }
        }
        guard end < body.count, body[end] == UInt8(ascii: "\"") else { return nil }
        return String(decoding: body[valueStart..<end], as: UTF8.self)
    }

    static func position(of pattern: [UInt8], in body: [UInt8]) -> Int? {
        guard body.count >= pattern.count else { return nil }
        for start in 0...(body.count - pattern.count) where ASCII.equals(body, start..<start + pattern.count, pattern) {
            return start
        }
        return nil
    }
}
