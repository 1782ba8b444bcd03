// What a long URL must be before it is stored: the one door every write passes (public PUT on
// node and proxy, the node's internal `/_/kv` PUT).
//
//   https://user@host.example:8443/path?q#f
//   └─┬─┘   └──────────┬──────────┘
//   scheme   authority: after "//", up to the first / ? # (or the end)
//
// Rules, in the order they are checked (the first broken one is the answer):
//   - 1 to `Limits.longBytesMax` bytes, no control byte and no space (nothing can break a
//     header line, nothing is ambiguous when shown);
//   - `scheme://` with the scheme in the allowed list (compared case-insensitively; default
//     http and https), so `javascript:`, `data:`, `vbscript:`, `file:///…`, `//host` and
//     `/\host` are refused;
//   - a non-empty host: the authority has no `\` (browsers read it as `/`, so it could hide
//     another host) and, after any `user@` and before any `:port`, at least one byte.
// Every process that stores URLs (proxy and nodes) takes `--allowed-schemes`; they must agree,
// or a node refuses what its proxy accepted (the proxy then answers 400, docs/PROTOCOL.md).

package struct LongURLRules: Sendable, Equatable {
    /// Allowed scheme names, lowercase.
    let allowedSchemes: [[UInt8]]
    /// The sentence a URL without an allowed scheme or a host gets, naming the schemes.
    package let schemeRule: String

    /// http and https.
    package static let standard = LongURLRules(checkedSchemes: ["http", "https"])
    /// Schemes whose URLs run script in a browser: never allowed, whatever the option says.
    static let scriptSchemes = ["javascript", "vbscript", "data"]

    private init(checkedSchemes: [String]) {
        allowedSchemes = checkedSchemes.map { Array($0.utf8) }
        let starts = checkedSchemes.map { $0 + "://" }
        let listed = starts.count == 1 ? starts[0] : starts.dropLast().joined(separator: ", ") + " or " + starts[starts.count - 1]
        schemeRule = "The long URL must start with \(listed) and name a host."
    }

    /// Parses the `--allowed-schemes` value: scheme names separated by commas.
    package init(parsingSchemeList text: String) throws {
        var schemes: [String] = []
        for piece in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(piece).trimmingSpaces().lowercased()
            guard LongURL.isSchemeName(Array(name.utf8)) else {
                throw CommandLineError("--allowed-schemes: '\(name)' is not a scheme name (a letter, then letters, digits, + - .)")
            }
            guard !Self.scriptSchemes.contains(name) else {
                throw CommandLineError("--allowed-schemes: \(name): URLs run script in a browser and are never allowed")
            }
            if !schemes.contains(name) { schemes.append(name) }
        }
        self.init(checkedSchemes: schemes)
    }

    /// Nil when `long` may be stored, else the reason. `arrivedPercentEncoded` (the value was
    /// decoded from form encoding) explains a space that came from `+` or `%20`.
    package func problem(_ long: [UInt8], arrivedPercentEncoded: Bool = false) -> String? {
        if long.isEmpty { return "The long URL is empty." }
        if long.count > Limits.longBytesMax { return "The long URL is longer than \(Limits.longBytesMax) bytes." }
        for byte in long where ASCII.isControl(byte) || byte == ASCII.space {
            return arrivedPercentEncoded ? Self.encodedSpaceRule : Self.spaceRule
        }
        guard let colon = LongURL.schemeEnd(long), isAllowed(long, scheme: 0..<colon),
              LongURL.hasHost(long, afterScheme: colon) else {
            return schemeRule
        }
        return nil
    }

    private static let spaceRule = "The long URL may not contain spaces or control characters."
    private static let encodedSpaceRule = "The long URL may not contain spaces or control characters. It arrived wholly "
        + "percent-encoded (as a form sends it), so it was decoded once and + and %20 became spaces: "
        + "write a space in the URL as %20 before encoding it."

    private func isAllowed(_ long: [UInt8], scheme: Range<Int>) -> Bool {
        for allowed in allowedSchemes where ASCII.equalsIgnoringCase(long, scheme, allowed) { return true }
        return false
    }
}

/// The parts of a URL the rules look at, found by scanning bytes.
package enum LongURL {
    /// RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
    static func isSchemeName(_ name: [UInt8]) -> Bool {
        schemeNameEnd(name, 0..<name.count) == name.count && !name.isEmpty
    }

    /// The end of the scheme name at the start of `buffer[range]` (its lower bound when none).
    static func schemeNameEnd(_ buffer: [UInt8], _ range: Range<Int>) -> Int {
        guard !range.isEmpty, isLetter(buffer[range.lowerBound]) else { return range.lowerBound }
        var index = range.lowerBound + 1
        while index < range.upperBound, isSchemeByte(buffer[index]) { index += 1 }
        return index
    }

    /// The offset of the `:` that ends a leading scheme name, or nil.
    static func schemeEnd(_ url: [UInt8]) -> Int? {
        let end = schemeNameEnd(url, 0..<url.count)
        return end > 0 && end < url.count && url[end] == ASCII.colon ? end : nil
    }

    /// True when `//authority` follows the scheme's colon and the authority names a host.
    static func hasHost(_ url: [UInt8], afterScheme colon: Int) -> Bool {
        let start = colon + 3
        guard start <= url.count, url[colon + 1] == ASCII.slash, url[colon + 2] == ASCII.slash else { return false }
        var end = start
        var hostStart = start
        while end < url.count, !isAuthorityEnd(url[end]) {
            if url[end] == ASCII.backslash { return false }
            if url[end] == ASCII.at { hostStart = end + 1 }
            end += 1
        }
        return hostLength(url, hostStart..<end) > 0
    }

    /// The host's length: up to a `:port`, or a bracketed IPv6 literal with its brackets' content.
    private static func hostLength(_ url: [UInt8], _ hostAndPort: Range<Int>) -> Int {
        guard let first = hostAndPort.first else { return 0 }
        var index = first
        if url[first] == ASCII.leftBracket {
            while index < hostAndPort.upperBound, url[index] != ASCII.rightBracket { index += 1 }
            return index < hostAndPort.upperBound ? index - first - 1 : 0
        }
        while index < hostAndPort.upperBound, url[index] != ASCII.colon { index += 1 }
        return index - first
    }

    private static func isAuthorityEnd(_ byte: UInt8) -> Bool {
        byte == ASCII.slash || byte == ASCII.questionMark || byte == ASCII.hash
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (byte | 0x20) &- 0x61 < 26 }

    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || ASCII.isDigit(byte) || byte == ASCII.plus || byte == ASCII.minus || byte == ASCII.dot
    }
}

extension LongURLRules {
    /// `--allowed-schemes`, taken by the proxy and the node alike.
    static let optionSpec = OptionSpec.value(
        "allowed-schemes", "LIST", "schemes a long URL may have, comma-separated; proxy and nodes must agree (default http,https)")

    /// The rules a command line asks for: `--allowed-schemes`, else `standard`.
    static func fromOptions(_ parsed: ParsedOptions) throws -> LongURLRules {
        guard let list = parsed.string(optionSpec.name) else { return .standard }
        return try LongURLRules(parsingSchemeList: list)
    }
}
