// Who may write, and how a short URL is spelled for the person who made it.
//
// `--write-token` / `--write-token-file` (proxy): when set, every PUT, DELETE and POST needs
// `Authorization: Bearer TOKEN` (or, from the no-JavaScript form, the `token` field); anything
// else gets 401 with `WWW-Authenticate: Bearer realm="linkring"` and changes nothing. Reads
// (redirects, the home page, /_/health) stay open. The token is compared in constant time
// (ConstantTime.swift), like the cluster token.
//
// Short URLs: `--public-url https://s.example` when given (behind TLS or another name), else
// `http://` and the request's own `Host` when it is a plausible host[:port] (letters, digits,
// `.-:[]`, at most `Limits.hostHeaderBytesMax` bytes), else the address the proxy listens on.
// A Host that fails the check never reaches a page or a `Location` header.

package struct WriteTokenGate: Sendable {
    package let token: [UInt8]

    package init(token: [UInt8]) { self.token = token }

    private static let bearer: [UInt8] = Array("bearer ".utf8)

    /// True when `Authorization: Bearer TOKEN` carries the token (the scheme case-insensitive).
    package func admits(_ head: HTTPRequestHead, _ buffer: [UInt8]) -> Bool {
        guard let value = head.authorization, value.count > Self.bearer.count,
              ASCII.equalsIgnoringCase(buffer, value.lowerBound..<value.lowerBound + Self.bearer.count, Self.bearer) else { return false }
        var start = value.lowerBound + Self.bearer.count
        while start < value.upperBound, buffer[start] == ASCII.space { start += 1 }
        return ConstantTime.equals(buffer, start..<value.upperBound, token)
    }

    /// True when a form's `token` field is the token.
    package func admits(formToken: [UInt8]) -> Bool {
        ConstantTime.equals(formToken, 0..<formToken.count, token)
    }

    package static let challenge: [UInt8] = Array("WWW-Authenticate: Bearer realm=\"linkring\"".utf8)

    package static let refusal = HTTPParseFailure(.unauthorized,
        "This service needs a write token to make or delete links: send Authorization: Bearer TOKEN, "
            + "or fill in the token field of the form.")

    /// The options, beside the other proxy options.
    static let specs: [OptionSpec] = [
        .value("write-token", "TOKEN", "PUT, DELETE and POST need Authorization: Bearer TOKEN (visible in ps: prefer --write-token-file)"),
        .value("write-token-file", "PATH", "read the write token from PATH (whitespace around it trimmed)"),
    ]

    package static func read(_ parsed: ParsedOptions, readFile: (String) throws -> String) throws -> [UInt8]? {
        try ClusterToken.readSecret(parsed, option: "write-token", what: "write token", bytesMax: Limits.writeTokenBytesMax,
                                    readFile: readFile)
    }
}

package enum ShortURL {
    static let specs: [OptionSpec] = [
        .value("public-url", "URL", "what short URLs start with, e.g. https://s.example (default: http:// and the request's Host)"),
    ]

    /// `--public-url`: `http://` or `https://`, a host, an optional port and path prefix; no
    /// query, fragment, space or control byte. Kept without a trailing `/`.
    package static func parseOption(_ text: String) throws -> [UInt8] {
        var bytes = Array(text.utf8)
        while bytes.last == ASCII.slash { bytes.removeLast() }
        let rules = LongURLRules.standard
        guard bytes.count <= Limits.publicURLBytesMax, rules.problem(bytes) == nil,
              !bytes.contains(ASCII.questionMark), !bytes.contains(ASCII.hash) else {
            throw CommandLineError("--public-url must be http:// or https:// and a host (an optional :port and path), "
                + "at most \(Limits.publicURLBytesMax) bytes, without ? or #: got '\(text)'")
        }
        return bytes
    }

    /// What this request's short URLs start with (no trailing `/`).
    package static func base(configured: [UInt8]?, _ head: HTTPRequestHead, _ buffer: [UInt8], listenAddress: String) -> [UInt8] {
        if let configured { return configured }
        var base: [UInt8] = Array("http://".utf8)
        if let host = head.host, isPlausibleHost(buffer, host) {
            base += buffer[host]
        } else {
            base += Array(listenAddress.utf8)
        }
        return base
    }

    /// The full short URL of `name`.
    package static func make(base: [UInt8], name: [UInt8]) -> [UInt8] {
        base + [ASCII.slash] + name
    }

    static func isPlausibleHost(_ buffer: [UInt8], _ range: Range<Int>) -> Bool {
        guard !range.isEmpty, range.count <= Limits.hostHeaderBytesMax else { return false }
        for index in range {
            let byte = buffer[index]
            let isLetterOrDigit = ASCII.isDigit(byte) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
            guard isLetterOrDigit || byte == ASCII.dot || byte == ASCII.minus || byte == ASCII.colon
                    || byte == ASCII.leftBracket || byte == ASCII.rightBracket else { return false }
        }
        return true
    }
}
