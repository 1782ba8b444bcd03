// Incremental HTTP/1.1 request-head parser over bytes.
//
// The connection keeps its unread input in one `[UInt8]`; it calls `parse(_:from:to:)` after
// every read with the bytes of the request that has not been answered yet. The parser answers
// "need more" until the head is complete, then a head whose fields are ranges into that same
// buffer (no copies, no Strings). It remembers how far it has searched for the blank line that
// ends the head, so a head that arrives one byte at a time is scanned once, not once per byte.
//
// Rules (RFC 9112, kept strict where being lenient could smuggle a request):
//   - a line ends with LF, optionally preceded by CR; a bare CR elsewhere is an error;
//   - empty lines before the request line are skipped;
//   - request line `METHOD SP origin-form SP HTTP/1.x`, at most `Limits.requestLineBytesMax`;
//     the version is read before the target, so any other version, the HTTP/2 preface
//     `PRI * HTTP/2.0` included, gets 505 (and the connection closes, as after every failure);
//   - header block at most `Limits.headerBytesMax` bytes and `Limits.headerFieldsMax` fields;
//   - no folded lines, no space before a colon, no control bytes in values;
//   - HTTP/1.1 needs exactly one Host header (RFC 9112 section 3.2), HTTP/1.0 none;
//   - `Connection` is a token list: `close` anywhere in it (or in any Connection line) wins;
//   - Content-Length only (digits, leading zeros allowed, at most `Limits.bodyBytesMax`);
//     Transfer-Encoding is refused (501).
//   - `Forwarded`, `X-Forwarded-For` or `X-Real-IP` marks the request as forwarded by a reverse
//     proxy (its peer is not its client: the operator routes' check, OperatorAccess.swift).
//   - `Host`, `Accept`, `Authorization`, `If-None-Match` and `Content-Type` are noted as ranges
//     of their values (the pages and create-only writes read them; nothing is copied here).

package enum HTTPMethod: UInt8, Sendable {
    case get, head, put, delete, post, options, patch, trace, connect, other
}

/// A parsed request head. Ranges index the buffer that was given to the parser.
package struct HTTPRequestHead: Sendable, Equatable {
    package var method: HTTPMethod = .other
    /// The request target (path and query), for example `/abc` or `/?short=a&long=b`.
    package var target: Range<Int> = 0..<0
    package var isHTTP10 = false
    /// Whether the connection stays open after the answer.
    package var isKeepAlive = true
    package var contentLength = 0
    /// The value of `X-Cluster-Token`, if the request has one.
    package var clusterToken: Range<Int>? = nil
    /// The value of `X-Generation`: the membership generation of the process that sent an
    /// internal request (Membership.swift), if it says one.
    package var generation: UInt64? = nil
    /// The client sent `Expect: 100-continue`.
    package var expectsContinue = false
    /// The request names a client behind it (`Forwarded`, `X-Forwarded-For`, `X-Real-IP`): it
    /// came through a reverse proxy, so its peer address is not the client's (OperatorAccess).
    package var isForwarded = false
    /// Offset of the first byte after the head (where the body starts).
    package var bodyStart = 0
    /// The values of `Host`, `Accept`, `Authorization`, `If-None-Match` and `Content-Type`,
    /// when present (the last one wins for all but Host, of which there is at most one).
    package var host: Range<Int>? = nil
    package var accept: Range<Int>? = nil
    package var authorization: Range<Int>? = nil
    package var ifNoneMatch: Range<Int>? = nil
    package var contentType: Range<Int>? = nil

    package init() {}
}

/// A request the parser refuses: the status to answer and a sentence for the page.
package struct HTTPParseFailure: Error, Sendable, Equatable {
    package var status: HTTPStatus
    package var reason: String
    /// The methods a 405 names in its `Allow` header (nil for every other status).
    package var allow: String?
    /// The value that was wrong, as sent (a 400 page repeats it, escaped), when there is one.
    package var offending: [UInt8]? = nil

    package init(_ status: HTTPStatus, _ reason: String, offending: [UInt8]? = nil) {
        self.status = status
        self.reason = reason
        self.offending = offending
    }

    /// The one 405: its page and its `Allow` header name the same methods.
    package static func methodNotAllowed(allow: String) -> HTTPParseFailure {
        var failure = HTTPParseFailure(.methodNotAllowed, "Allowed methods are \(allow).")
        failure.allow = allow
        return failure
    }
}

package enum HTTPParseResult: Sendable, Equatable {
    case needMore
    case head(HTTPRequestHead)
    case failure(HTTPParseFailure)
}

package struct HTTPRequestParser: Sendable {
    /// Bytes after the request's first byte already searched for the end of the head.
    private var searchedBytes = 0
    /// Offset (relative to the request start) of the request line's LF, once found.
    private var requestLineEnd: Int? = nil

    package init() {}

    /// Forgets the scan state; call after a request has been consumed.
    package mutating func reset() {
        searchedBytes = 0
        requestLineEnd = nil
    }

    /// Parses the head of the request that starts at `start` in `buffer[start..<end]`.
    /// Leading empty lines are not skipped here: use `skipEmptyLines` first.
    package mutating func parse(_ buffer: [UInt8], from start: Int, to end: Int) -> HTTPParseResult {
        var index = start + searchedBytes
        while index < end {
            if buffer[index] == ASCII.lf {
                if requestLineEnd == nil {
                    requestLineEnd = index - start
                    if let failure = checkRequestLineLength(buffer, start: start, lineFeed: index) {
                        return .failure(failure)
                    }
                } else if isBlankLineEnd(buffer, lineFeed: index, start: start) {
                    searchedBytes = 0
                    return parseHead(buffer, start: start, headEnd: index + 1)
                }
            }
            index += 1
        }
        searchedBytes = end - start
        return checkIncompleteLimits()
    }

    /// Returns the offset of the first byte that is not CR or LF at or after `start`.
    package static func skipEmptyLines(_ buffer: [UInt8], from start: Int, to end: Int) -> Int {
        var index = start
        while index < end, buffer[index] == ASCII.cr || buffer[index] == ASCII.lf { index += 1 }
        return index
    }

    private func checkRequestLineLength(_ buffer: [UInt8], start: Int, lineFeed: Int) -> HTTPParseFailure? {
        var length = lineFeed - start
        if length > 0, buffer[lineFeed - 1] == ASCII.cr { length -= 1 }
        return length > Limits.requestLineBytesMax
            ? HTTPParseFailure(.uriTooLong, "The request line is longer than \(Limits.requestLineBytesMax) bytes.")
            : nil
    }

    private func checkIncompleteLimits() -> HTTPParseResult {
        guard let lineEnd = requestLineEnd else {
            return searchedBytes > Limits.requestLineBytesMax + 1
                ? .failure(HTTPParseFailure(.uriTooLong, "The request line is longer than \(Limits.requestLineBytesMax) bytes."))
                : .needMore
        }
        return searchedBytes - lineEnd - 1 > Limits.headerBytesMax
            ? .failure(HTTPParseFailure(.headerFieldsTooLarge, "The header block is longer than \(Limits.headerBytesMax) bytes."))
            : .needMore
    }

    /// True when the LF at `lineFeed` ends an empty line that follows the request line.
    private func isBlankLineEnd(_ buffer: [UInt8], lineFeed: Int, start: Int) -> Bool {
        guard let lineEnd = requestLineEnd else { return false }
        let previous = lineFeed - 1
        if previous == start + lineEnd { return true }
        if buffer[previous] == ASCII.lf { return true }
        return buffer[previous] == ASCII.cr && previous - 1 >= start && buffer[previous - 1] == ASCII.lf
    }

    private mutating func parseHead(_ buffer: [UInt8], start: Int, headEnd: Int) -> HTTPParseResult {
        let lineFeed = start + (requestLineEnd ?? 0)
        requestLineEnd = nil
        var head = HTTPRequestHead()
        head.bodyStart = headEnd
        if headEnd - lineFeed - 1 > Limits.headerBytesMax {
            return .failure(HTTPParseFailure(.headerFieldsTooLarge, "The header block is longer than \(Limits.headerBytesMax) bytes."))
        }
        if let failure = RequestLine.parse(buffer, start: start, end: lineEnd(buffer, lineFeed: lineFeed, start: start), into: &head) {
            return .failure(failure)
        }
        var fields = HeaderFields()
        if let failure = fields.parse(buffer, from: lineFeed + 1, headEnd: headEnd, into: &head) {
            return .failure(failure)
        }
        return .head(head)
    }

    /// The end of a line's content: its LF, or the CR before it.
    private func lineEnd(_ buffer: [UInt8], lineFeed: Int, start: Int) -> Int {
        lineFeed > start && buffer[lineFeed - 1] == ASCII.cr ? lineFeed - 1 : lineFeed
    }
}

/// `METHOD SP target SP HTTP/1.x`.
private enum RequestLine {
    static func parse(_ buffer: [UInt8], start: Int, end: Int, into head: inout HTTPRequestHead) -> HTTPParseFailure? {
        var index = start
        while index < end, ASCII.isTokenByte(buffer[index]) { index += 1 }
        guard index > start, index < end, buffer[index] == ASCII.space else {
            return HTTPParseFailure(.badRequest, "The request line is not METHOD SP target SP HTTP-version.")
        }
        head.method = method(buffer, start..<index)
        let targetStart = index + 1
        index = targetStart
        while index < end, buffer[index] > ASCII.space, buffer[index] < ASCII.del { index += 1 }
        guard index > targetStart, index < end, buffer[index] == ASCII.space else {
            return HTTPParseFailure(.badRequest, "The request target is empty or has a space or control byte.")
        }
        if let failure = parseVersion(buffer, start: index + 1, end: end, into: &head) { return failure }
        guard buffer[targetStart] == ASCII.slash else {
            return HTTPParseFailure(.badRequest, "The request target must start with '/'.")
        }
        head.target = targetStart..<index
        return nil
    }

    private static let httpPrefix: [UInt8] = Array("HTTP/".utf8)

    /// `HTTP/1.1` or `HTTP/1.0`; another well-formed `HTTP/D` or `HTTP/D.D` gets 505.
    private static func parseVersion(_ buffer: [UInt8], start: Int, end: Int, into head: inout HTTPRequestHead) -> HTTPParseFailure? {
        let length = end - start
        guard length >= 6, ASCII.equals(buffer, start..<start + 5, httpPrefix), ASCII.isDigit(buffer[start + 5]) else {
            return HTTPParseFailure(.badRequest, "The HTTP version is malformed.")
        }
        let hasMinor = length == 8 && buffer[start + 6] == ASCII.dot && ASCII.isDigit(buffer[start + 7])
        guard length == 6 || hasMinor else { return HTTPParseFailure(.badRequest, "The HTTP version is malformed.") }
        if hasMinor && buffer[start + 5] == ASCII.digit1 {
            switch buffer[start + 7] {
            case ASCII.digit1: head.isHTTP10 = false; head.isKeepAlive = true; return nil
            case ASCII.digit0: head.isHTTP10 = true; head.isKeepAlive = false; return nil
            default: break
            }
        }
        return HTTPParseFailure(.httpVersionNotSupported, "This server speaks HTTP/1.1 and HTTP/1.0 only (not HTTP/2): "
                                + "send the request as HTTP/1.1, for example with curl --http1.1.")
    }

    private static let methods: [(HTTPMethod, [UInt8])] = [
        (.get, Array("GET".utf8)), (.put, Array("PUT".utf8)), (.head, Array("HEAD".utf8)),
        (.delete, Array("DELETE".utf8)), (.post, Array("POST".utf8)), (.options, Array("OPTIONS".utf8)),
        (.patch, Array("PATCH".utf8)), (.trace, Array("TRACE".utf8)), (.connect, Array("CONNECT".utf8)),
    ]

    private static func method(_ buffer: [UInt8], _ range: Range<Int>) -> HTTPMethod {
        for (method, name) in methods where ASCII.equals(buffer, range, name) { return method }
        return .other
    }
}

/// The header lines between the request line and the blank line.
private struct HeaderFields {
    private var fieldCount = 0
    private var sawContentLength = false
    private var sawHost = false
    /// A `close` token was seen: no later `keep-alive` token may undo it.
    private var sawClose = false

    private static let contentLength: [UInt8] = Array("content-length".utf8)
    private static let transferEncoding: [UInt8] = Array("transfer-encoding".utf8)
    private static let connection: [UInt8] = Array("connection".utf8)
    private static let clusterToken: [UInt8] = Array("x-cluster-token".utf8)
    private static let generation: [UInt8] = Array("x-generation".utf8)
    private static let expect: [UInt8] = Array("expect".utf8)
    private static let forwarded: [UInt8] = Array("forwarded".utf8)
    private static let forwardedFor: [UInt8] = Array("x-forwarded-for".utf8)
    private static let realIP: [UInt8] = Array("x-real-ip".utf8)
    private static let host: [UInt8] = Array("host".utf8)
    private static let accept: [UInt8] = Array("accept".utf8)
    private static let authorization: [UInt8] = Array("authorization".utf8)
    private static let ifNoneMatch: [UInt8] = Array("if-none-match".utf8)
    private static let contentType: [UInt8] = Array("content-type".utf8)
    private static let close: [UInt8] = Array("close".utf8)
    private static let keepAlive: [UInt8] = Array("keep-alive".utf8)
    private static let continue100: [UInt8] = Array("100-continue".utf8)

    mutating func parse(_ buffer: [UInt8], from start: Int, headEnd: Int, into head: inout HTTPRequestHead) -> HTTPParseFailure? {
        var lineStart = start
        while lineStart < headEnd {
            let line = ASCII.line(in: buffer, from: lineStart)
            if line.content.isEmpty { break }
            if let failure = parseField(buffer, line.content, into: &head) { return failure }
            lineStart = line.next
        }
        guard sawHost || head.isHTTP10 else {
            return HTTPParseFailure(.badRequest, "An HTTP/1.1 request must have a Host header (RFC 9112, section 3.2).")
        }
        return nil
    }

    private mutating func parseField(_ buffer: [UInt8], _ line: Range<Int>, into head: inout HTTPRequestHead) -> HTTPParseFailure? {
        fieldCount += 1
        if fieldCount > Limits.headerFieldsMax {
            return HTTPParseFailure(.headerFieldsTooLarge, "The request has more than \(Limits.headerFieldsMax) header fields.")
        }
        var colon = line.lowerBound
        while colon < line.upperBound, ASCII.isTokenByte(buffer[colon]) { colon += 1 }
        guard colon > line.lowerBound, colon < line.upperBound, buffer[colon] == ASCII.colon else {
            return HTTPParseFailure(.badRequest, "A header line is not 'name: value' (or is folded).")
        }
        guard let value = trimmedValue(buffer, colon + 1..<line.upperBound) else {
            return HTTPParseFailure(.badRequest, "A header value has a control byte.")
        }
        return interpret(buffer, name: line.lowerBound..<colon, value: value, into: &head)
    }

    private func trimmedValue(_ buffer: [UInt8], _ range: Range<Int>) -> Range<Int>? {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, ASCII.isBlank(buffer[lower]) { lower += 1 }
        while upper > lower, ASCII.isBlank(buffer[upper - 1]) { upper -= 1 }
        for index in lower..<upper where ASCII.isControl(buffer[index]) && buffer[index] != ASCII.tab {
            return nil
        }
        return lower..<upper
    }

    private mutating func interpret(_ buffer: [UInt8], name: Range<Int>, value: Range<Int>, into head: inout HTTPRequestHead) -> HTTPParseFailure? {
        switch name.count {
        case 14 where ASCII.equalsIgnoringCase(buffer, name, Self.contentLength):
            return parseContentLength(buffer, value, into: &head)
        case 17 where ASCII.equalsIgnoringCase(buffer, name, Self.transferEncoding):
            return HTTPParseFailure(.notImplemented, "Transfer-Encoding is not supported; send Content-Length.")
        case 10 where ASCII.equalsIgnoringCase(buffer, name, Self.connection):
            applyConnection(buffer, value, into: &head)
        case 15 where ASCII.equalsIgnoringCase(buffer, name, Self.clusterToken):
            head.clusterToken = value
        case 15 where ASCII.equalsIgnoringCase(buffer, name, Self.forwardedFor),
             9 where ASCII.equalsIgnoringCase(buffer, name, Self.forwarded) || ASCII.equalsIgnoringCase(buffer, name, Self.realIP):
            head.isForwarded = true
        case 12 where ASCII.equalsIgnoringCase(buffer, name, Self.generation):
            guard let number = Self.generationNumber(buffer, value) else {
                return HTTPParseFailure(.badRequest, "X-Generation must be a decimal number of at most 18 digits.")
            }
            head.generation = number
        case 4 where ASCII.equalsIgnoringCase(buffer, name, Self.host):
            guard !sawHost else { return HTTPParseFailure(.badRequest, "The request has more than one Host header.") }
            sawHost = true
            head.host = value
        case 6 where ASCII.equalsIgnoringCase(buffer, name, Self.accept):
            head.accept = value
        case 13 where ASCII.equalsIgnoringCase(buffer, name, Self.authorization):
            head.authorization = value
        case 13 where ASCII.equalsIgnoringCase(buffer, name, Self.ifNoneMatch):
            head.ifNoneMatch = value
        case 12 where ASCII.equalsIgnoringCase(buffer, name, Self.contentType):
            head.contentType = value
        case 6 where ASCII.equalsIgnoringCase(buffer, name, Self.expect):
            guard ASCII.equalsIgnoringCase(buffer, value, Self.continue100) else {
                return HTTPParseFailure(.expectationFailed, "Only 'Expect: 100-continue' is understood.")
            }
            head.expectsContinue = true
        default:
            break
        }
        return nil
    }

    /// 1 to 18 decimal digits (a hosts file's generation: HostsFile.swift).
    private static func generationNumber(_ buffer: [UInt8], _ value: Range<Int>) -> UInt64? {
        guard !value.isEmpty, value.count <= 18 else { return nil }
        var number: UInt64 = 0
        for index in value {
            guard ASCII.isDigit(buffer[index]) else { return nil }
            number = number * 10 + UInt64(buffer[index] - UInt8(ascii: "0"))
        }
        return number
    }

    /// Digits, leading zeros allowed (`007` is 7). The value stops growing once past the body
    /// limit, so no number of digits can overflow it.
    private mutating func parseContentLength(_ buffer: [UInt8], _ value: Range<Int>, into head: inout HTTPRequestHead) -> HTTPParseFailure? {
        guard !value.isEmpty else { return HTTPParseFailure(.badRequest, "Content-Length is empty.") }
        var length = 0
        for index in value {
            guard ASCII.isDigit(buffer[index]) else { return HTTPParseFailure(.badRequest, "Content-Length is not a number.") }
            if length <= Limits.bodyBytesMax { length = length * 10 + Int(buffer[index] - ASCII.digit0) }
        }
        if sawContentLength, length != head.contentLength {
            return HTTPParseFailure(.badRequest, "Content-Length is given twice with different values.")
        }
        sawContentLength = true
        head.contentLength = length
        return length > Limits.bodyBytesMax
            ? HTTPParseFailure(.payloadTooLarge, "The body is larger than \(Limits.bodyBytesMax) bytes.")
            : nil
    }

    /// `Connection` is a comma-separated token list, case-insensitive; only `close` and
    /// `keep-alive` matter, and `close` wins wherever it stands.
    private mutating func applyConnection(_ buffer: [UInt8], _ value: Range<Int>, into head: inout HTTPRequestHead) {
        var tokenStart = value.lowerBound
        while tokenStart < value.upperBound {
            var tokenEnd = tokenStart
            while tokenEnd < value.upperBound, buffer[tokenEnd] != ASCII.comma { tokenEnd += 1 }
            let token = trimmedValue(buffer, tokenStart..<tokenEnd) ?? tokenStart..<tokenStart
            if ASCII.equalsIgnoringCase(buffer, token, Self.close) { sawClose = true }
            else if ASCII.equalsIgnoringCase(buffer, token, Self.keepAlive) { head.isKeepAlive = true }
            tokenStart = tokenEnd + 1
        }
        if sawClose { head.isKeepAlive = false }
    }
}
