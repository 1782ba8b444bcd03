// HTTP responses as bytes appended to a connection's output buffer.
//
// Every response has `Server`, `Date` (cached bytes, formatted once a second by the server),
// `Content-Type`, an exact `Content-Length`, and `Connection: close` when the connection ends
// after it (or `Connection: keep-alive` for an HTTP/1.0 client that asked to keep it). A HEAD
// answer has the headers of the GET answer and no body. The 307 redirect, the hot path, is
// written straight into the buffer without building its body first: one scan of the URL
// (`LocationBytes`) finds what its body needs HTML-escaped and what its Location header needs
// percent-encoded; a URL with neither (the common case) is copied whole, with no allocation.

package struct ResponseContext: Sendable {
    /// The 29 bytes of the current `Date` value.
    package var date: [UInt8]
    package var isKeepAlive: Bool
    package var isHTTP10: Bool
    package var isHead: Bool

    package init(date: [UInt8], isKeepAlive: Bool, isHTTP10: Bool = false, isHead: Bool = false) {
        self.date = date
        self.isKeepAlive = isKeepAlive
        self.isHTTP10 = isHTTP10
        self.isHead = isHead
    }
}

package enum ContentType {
    package static let html: [UInt8] = Array("text/html; charset=utf-8".utf8)
    package static let json: [UInt8] = Array("application/json".utf8)
    package static let text: [UInt8] = Array("text/plain; charset=utf-8".utf8)
    package static let prometheus: [UInt8] = Array("text/plain; version=0.0.4; charset=utf-8".utf8)
    package static let css: [UInt8] = Array("text/css; charset=utf-8".utf8)
}

package enum Response {
    // The fixed parts are StaticStrings: appending one copies bytes from the binary, with no
    // reference counting and no lazy-global check (measurable on the 307 path).
    private static let redirectBodyStart: StaticString =
        "<!DOCTYPE html>\n<html><head><title>307 Temporary Redirect</title><link rel=\"stylesheet\" href=\"/_/style.css\"></head><body><p>Redirecting to <a href=\""
    private static let redirectBodyMiddle: StaticString = "\">"
    private static let redirectBodyEnd: StaticString = "</a></p></body></html>\n"

    /// `307 Temporary Redirect` to `location`: percent-encoded where needed in the header,
    /// HTML-escaped in the body.
    package static func appendRedirect(to output: inout [UInt8], location: [UInt8], _ context: ResponseContext) {
        let scan = LocationBytes.scan(location)
        let escapedLength = scan.htmlEscapedLength
        let bodyLength = redirectBodyStart.utf8CodeUnitCount + redirectBodyMiddle.utf8CodeUnitCount
            + redirectBodyEnd.utf8CodeUnitCount + 2 * escapedLength
        appendHead(to: &output, .temporaryRedirect, ContentType.html, bodyLength: bodyLength, context) { output in
            output.append("\r\nLocation: ")
            LocationBytes.appendEncoded(location, scan, to: &output)
        }
        guard !context.isHead else { return }
        output.append(redirectBodyStart)
        HTML.appendEscaped(location, escapedLength: escapedLength, to: &output)
        output.append(redirectBodyMiddle)
        HTML.appendEscaped(location, escapedLength: escapedLength, to: &output)
        output.append(redirectBodyEnd)
    }

    /// A node's answer to an internal read (on every proxied GET): `value` as the body (empty
    /// for 404), `X-Version`, and `X-Recovering: 1` while the node catches up. Only what the
    /// proxy reads: no Server, Date or Content-Type (docs/PROTOCOL.md), so the node writes
    /// and the proxy parses about half the bytes.
    package static func appendVersioned(to output: inout [UInt8], _ status: HTTPStatus, value: [UInt8], version: UInt64,
                                       isRecovering: Bool, _ context: ResponseContext) {
        output.append(contentsOf: status.statusLine)
        output.append("Content-Length: ")
        Decimal.append(value.count, to: &output)
        output.append("\r\nX-Version: ")
        Decimal.append(version, to: &output)
        if isRecovering { output.append("\r\nX-Recovering: 1") }
        appendConnectionAndEnd(to: &output, context)
        if !context.isHead { output.append(contentsOf: value) }
    }

    /// A node's answer to an internal write (two on every proxied PUT): the status, the body
    /// (`existed`/`absent`, a reason, a held value) and `extraHeaders` (a 409's or 412's
    /// `X-Version`), full lines without their CRLF. Like `appendVersioned`, only what the proxy
    /// reads: no Server, Date or Content-Type (docs/PROTOCOL.md).
    package static func appendInternal(to output: inout [UInt8], _ status: HTTPStatus, body: [UInt8], extraHeaders: [[UInt8]],
                                       _ context: ResponseContext) {
        output.append(contentsOf: status.statusLine)
        output.append("Content-Length: ")
        Decimal.append(body.count, to: &output)
        appendLines(extraHeaders, to: &output)
        appendConnectionAndEnd(to: &output, context)
        if !context.isHead { output.append(contentsOf: body) }
    }

    /// Any response with a complete body. `extraHeaders` are full lines without their CRLF.
    package static func append(to output: inout [UInt8], _ status: HTTPStatus, contentType: [UInt8], body: [UInt8],
                              extraHeaders: [[UInt8]] = [], _ context: ResponseContext) {
        appendHead(to: &output, status, contentType, bodyLength: body.count, context) { output in
            appendLines(extraHeaders, to: &output)
        }
        if !context.isHead { output.append(contentsOf: body) }
    }

    /// `204 No Content`: no Content-Type and no Content-Length (RFC 9110 forbids it on a 204).
    package static func appendNoContent(to output: inout [UInt8], extraHeaders: [[UInt8]], _ context: ResponseContext) {
        output.append(contentsOf: HTTPStatus.noContent.statusLine)
        output.append("Server: linkring\r\nDate: ")
        output.append(contentsOf: context.date)
        appendLines(extraHeaders, to: &output)
        appendConnectionAndEnd(to: &output, context)
    }

    private static func appendHead(to output: inout [UInt8], _ status: HTTPStatus, _ contentType: [UInt8], bodyLength: Int,
                                   _ context: ResponseContext, extra: (inout [UInt8]) -> Void) {
        output.append(contentsOf: status.statusLine)
        output.append("Server: linkring\r\nDate: ")
        output.append(contentsOf: context.date)
        output.append("\r\nContent-Type: ")
        output.append(contentsOf: contentType)
        output.append("\r\nContent-Length: ")
        Decimal.append(bodyLength, to: &output)
        extra(&output)
        appendConnectionAndEnd(to: &output, context)
    }

    /// Header lines given without their CRLF, each after the CRLF that ends the line before.
    private static func appendLines(_ lines: [[UInt8]], to output: inout [UInt8]) {
        for line in lines {
            output.append("\r\n")
            output.append(contentsOf: line)
        }
    }

    /// `Connection` when the default does not hold, then the blank line that ends the head.
    private static func appendConnectionAndEnd(to output: inout [UInt8], _ context: ResponseContext) {
        if !context.isKeepAlive {
            output.append("\r\nConnection: close")
        } else if context.isHTTP10 {
            output.append("\r\nConnection: keep-alive")
        }
        output.append("\r\n\r\n")
    }
}

extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of a constant, straight from the binary (public: inlined in
    /// other modules, which an `@inlinable package` one is not).
    @inlinable
    public mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}

/// A URL on its way into a redirect. A Location header may carry only bytes a URI may hold
/// raw (RFC 3986: unreserved, reserved and `%`); every other byte — controls, space, `"`, `<`,
/// `>`, `\`, `^`, backquote, `{`, `|`, `}`, DEL and every byte from 0x80 (so invalid UTF-8 too) —
/// goes out as `%XX`, as a browser would send it. `%` itself stays: the URL is not re-encoded.
package enum LocationBytes {
    package struct Scan: Sendable, Equatable {
        /// The URL's length once HTML-escaped (for the body).
        var htmlEscapedLength: Int
        /// How many of its bytes the Location header must percent-encode.
        var uriUnsafeBytes: Int
    }

    /// One table load per byte: a switch or compare chain per byte cost 30–90 ns more on an
    /// 80-byte URL than the HTML-only scan it replaced; the table costs nothing measurable.
    @inline(__always)
    static func scan(_ url: [UInt8]) -> Scan {
        var htmlExtraBytes = 0
        var uriUnsafeBytes = 0
        for byte in url {
            let kind = kindTable[Int(byte)]
            htmlExtraBytes &+= Int(kind & htmlExtraMask)
            uriUnsafeBytes &+= Int(kind >> uriUnsafeShift)
        }
        return Scan(htmlEscapedLength: url.count + htmlExtraBytes, uriUnsafeBytes: uriUnsafeBytes)
    }

    /// Appends `url` with its URI-unsafe bytes as `%XX`; whole when `scan` found none.
    @inline(__always)
    static func appendEncoded(_ url: [UInt8], _ scan: Scan, to output: inout [UInt8]) {
        if scan.uriUnsafeBytes == 0 { return output.append(contentsOf: url) }
        output.reserveCapacity(output.count + url.count + 2 * scan.uriUnsafeBytes)
        for byte in url {
            if kindTable[Int(byte)] >> uriUnsafeShift == 0 {
                output.append(byte)
            } else {
                PercentDecoding.appendEscape(byte, to: &output)
            }
        }
    }

    /// The percent-encoded form alone (for tests and logs).
    package static func encoded(_ url: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        appendEncoded(url, scan(url), to: &output)
        return output
    }

    private static let htmlExtraMask: UInt8 = 0b0111
    private static let uriUnsafeShift: UInt8 = 3

    /// Per byte: bits 0–2 the bytes its HTML entity adds (`&amp;` and `&#39;` 4, `&lt;` and
    /// `&gt;` 3, `&quot;` 5); bit 3 (8) set when it may not appear raw in a URI: outside
    /// 0x21...0x7E, or one of `"`, `<`, `>`, `\`, `^`, backquote, `{`, `|`, `}`. So `"` is 13,
    /// `<` and `>` 11, `&` and `'` 4.
    /// A literal array is laid out at compile time: no lazy initialisation on the hot path.
    /// (Checked against the rules byte by byte in LocationEncodingTests.)
    private static let kindTable: [UInt8] = [
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0x00–0x0F
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0x10–0x1F
         8,  0, 13,  0,  0,  0,  4,  4,  0,  0,  0,  0,  0,  0,  0,  0,  // 0x20–0x2F
         0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 11,  0, 11,  0,  // 0x30–0x3F
         0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  // 0x40–0x4F
         0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  8,  0,  8,  0,  // 0x50–0x5F
         8,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  // 0x60–0x6F
         0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  8,  8,  8,  0,  8,  // 0x70–0x7F
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0x80–0x8F
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0x90–0x9F
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0xA0–0xAF
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0xB0–0xBF
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0xC0–0xCF
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0xD0–0xDF
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0xE0–0xEF
         8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  // 0xF0–0xFF
    ]
}

package enum HTML {
    /// Length of `bytes` once `& < > " '` are replaced by entities.
    static func escapedLength(_ bytes: [UInt8]) -> Int {
        var length = bytes.count
        for byte in bytes {
            switch byte {
            case 0x26: length += 4       // &amp;
            case 0x3C, 0x3E: length += 3  // &lt; &gt;
            case 0x22: length += 5        // &quot;
            case 0x27: length += 4        // &#39;
            default: break
            }
        }
        return length
    }

    static func appendEscaped(_ bytes: [UInt8], to output: inout [UInt8]) {
        appendEscaped(bytes, escapedLength: escapedLength(bytes), to: &output)
    }

    /// With the length already known: bytes with nothing to escape (most URLs) are copied whole.
    static func appendEscaped(_ bytes: [UInt8], escapedLength: Int, to output: inout [UInt8]) {
        if escapedLength == bytes.count { return output.append(contentsOf: bytes) }
        output.reserveCapacity(output.count + escapedLength)
        for byte in bytes { appendEscaped(byte, to: &output) }
    }

    /// One of `& < > " '`.
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte == 0x26 || byte == 0x3C || byte == 0x3E || byte == 0x22 || byte == 0x27
    }

    @inline(__always)
    static func appendEscaped(_ byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case 0x26: output.append("&amp;")
        case 0x3C: output.append("&lt;")
        case 0x3E: output.append("&gt;")
        case 0x22: output.append("&quot;")
        case 0x27: output.append("&#39;")
        default: output.append(byte)
        }
    }

    static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(escapedLength(bytes))
        appendEscaped(bytes, to: &output)
        return output
    }
}
