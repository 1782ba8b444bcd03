// Byte constants and byte-class tests for parsing HTTP and queries without Strings.

package enum ASCII {
    static let tab: UInt8 = 0x09
    package static let lf: UInt8 = 0x0A
    package static let cr: UInt8 = 0x0D
    package static let space: UInt8 = 0x20
    package static let quote: UInt8 = 0x22
    package static let hash: UInt8 = 0x23
    package static let percent: UInt8 = 0x25
    static let ampersand: UInt8 = 0x26
    static let apostrophe: UInt8 = 0x27
    package static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    package static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let digit0: UInt8 = 0x30
    static let digit1: UInt8 = 0x31
    static let colon: UInt8 = 0x3A
    package static let lessThan: UInt8 = 0x3C
    package static let equals: UInt8 = 0x3D
    static let greaterThan: UInt8 = 0x3E
    static let questionMark: UInt8 = 0x3F
    package static let at: UInt8 = 0x40
    static let leftBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let rightBracket: UInt8 = 0x5D
    package static let del: UInt8 = 0x7F

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- digit0 < 10 }
    @inline(__always) static func isBlank(_ byte: UInt8) -> Bool { byte == space || byte == tab }
    @inline(__always) static func isControl(_ byte: UInt8) -> Bool { byte < space || byte == del }

    /// RFC 9110 `tchar`: the bytes a method or header name may contain.
    static func isTokenByte(_ byte: UInt8) -> Bool { tokenTable[Int(byte)] }

    private static let tokenTable: [Bool] = (0..<256).map { code in
        let byte = UInt8(code)
        if byte >= 0x80 || isControl(byte) || byte == space { return false }
        return !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
    }

    /// `A–Z a–z 0–9 - _ . ~`: RFC 3986 unreserved, the bytes a short name may contain.
    static func isUnreserved(_ byte: UInt8) -> Bool { unreservedTable[Int(byte)] }

    private static let unreservedTable: [Bool] = (0..<256).map { code in
        let byte = UInt8(code)
        return (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || isDigit(byte)
            || byte == 0x2D || byte == 0x5F || byte == 0x2E || byte == 0x7E
    }

    /// The value of a hex digit, or nil.
    @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// The line that starts at `start` in a head known to end with a blank line before `limit`:
    /// its content (without CR LF or LF) and where the next line starts.
    @inline(__always)
    package static func line(in buffer: [UInt8], from start: Int) -> (content: Range<Int>, next: Int) {
        var lineFeed = start
        while buffer[lineFeed] != lf { lineFeed += 1 }
        let end = lineFeed > start && buffer[lineFeed - 1] == cr ? lineFeed - 1 : lineFeed
        return (start..<end, lineFeed + 1)
    }

    package static func equals(_ buffer: [UInt8], _ range: Range<Int>, _ literal: [UInt8]) -> Bool {
        guard range.count == literal.count else { return false }
        var index = range.lowerBound
        for byte in literal {
            if buffer[index] != byte { return false }
            index += 1
        }
        return true
    }

    /// Compares with a lowercase literal of letters, digits and '-'.
    static func equalsIgnoringCase(_ buffer: [UInt8], _ range: Range<Int>, _ lowercase: [UInt8]) -> Bool {
        guard range.count == lowercase.count else { return false }
        var index = range.lowerBound
        for byte in lowercase {
            let candidate = buffer[index]
            let folded = candidate >= 0x41 && candidate <= 0x5A ? candidate | 0x20 : candidate
            if folded != byte { return false }
            index += 1
        }
        return true
    }
}
