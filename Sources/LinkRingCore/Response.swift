// HTTP responses as bytes appended to a connection's output buffer.
//
// Every response has `Server`, `Date` (cached bytes, formatted once a second by the server),
// `Content-Type`, an exact `Content-Length`, and `Connection: close` when the connection ends
// after it (or `Connection: keep-alive` for an HTTP/1.0 client that asked to keep it). A HEAD
// answer has the headers of the GET answer and no body. The 307 redirect, the hot path, is
// written straight into the buffer without building its body first.

public struct ResponseContext: Sendable {
    /// The 29 bytes of the current `Date` value.
    public var date: [UInt8]
    public var isKeepAlive: Bool
    public var isHTTP10: Bool
    public var isHead: Bool

    public init(date: [UInt8], isKeepAlive: Bool, isHTTP10: Bool = false, isHead: Bool = false) {
        self.date = date
        self.isKeepAlive = isKeepAlive
        self.isHTTP10 = isHTTP10
        self.isHead = isHead
    }
}

public enum ContentType {
    public static let html: [UInt8] = Array("text/html; charset=utf-8".utf8)
    public static let json: [UInt8] = Array("application/json".utf8)
    public static let text: [UInt8] = Array("text/plain; charset=utf-8".utf8)
    public static let prometheus: [UInt8] = Array("text/plain; version=0.0.4; charset=utf-8".utf8)
}

public enum Response {
    private static let serverAndDate: [UInt8] = Array("Server: linkring\r\nDate: ".utf8)
    private static let contentTypeField: [UInt8] = Array("\r\nContent-Type: ".utf8)
    private static let contentLengthField: [UInt8] = Array("\r\nContent-Length: ".utf8)
    private static let locationField: [UInt8] = Array("\r\nLocation: ".utf8)
    private static let closeField: [UInt8] = Array("\r\nConnection: close".utf8)
    private static let keepAliveField: [UInt8] = Array("\r\nConnection: keep-alive".utf8)
    private static let crlf: [UInt8] = [ASCII.cr, ASCII.lf]
    private static let redirectBodyStart: [UInt8] = Array(
        "<!DOCTYPE html>\n<html><head><title>307 Temporary Redirect</title></head><body><p>Redirecting to <a href=\"".utf8)
    private static let redirectBodyMiddle: [UInt8] = Array("\">".utf8)
    private static let redirectBodyEnd: [UInt8] = Array("</a></p></body></html>\n".utf8)

    /// `307 Temporary Redirect` to `location` (validated: no control bytes, no spaces).
    public static func appendRedirect(to output: inout [UInt8], location: [UInt8], _ context: ResponseContext) {
        let escapedLength = HTML.escapedLength(location)
        let bodyLength = redirectBodyStart.count + redirectBodyMiddle.count + redirectBodyEnd.count + 2 * escapedLength
        appendHead(to: &output, .temporaryRedirect, ContentType.html, bodyLength: bodyLength, context) { output in
            output.append(contentsOf: locationField)
            output.append(contentsOf: location)
        }
        guard !context.isHead else { return }
        output.append(contentsOf: redirectBodyStart)
        HTML.appendEscaped(location, to: &output)
        output.append(contentsOf: redirectBodyMiddle)
        HTML.appendEscaped(location, to: &output)
        output.append(contentsOf: redirectBodyEnd)
    }

    /// Any response with a complete body. `extraHeaders` are full lines without their CRLF.
    public static func append(to output: inout [UInt8], _ status: HTTPStatus, contentType: [UInt8], body: [UInt8],
                              extraHeaders: [[UInt8]] = [], _ context: ResponseContext) {
        appendHead(to: &output, status, contentType, bodyLength: body.count, context) { output in
            for line in extraHeaders {
                output.append(contentsOf: crlf)
                output.append(contentsOf: line)
            }
        }
        if !context.isHead { output.append(contentsOf: body) }
    }

    private static func appendHead(to output: inout [UInt8], _ status: HTTPStatus, _ contentType: [UInt8], bodyLength: Int,
                                   _ context: ResponseContext, extra: (inout [UInt8]) -> Void) {
        output.append(contentsOf: status.statusLine)
        output.append(contentsOf: serverAndDate)
        output.append(contentsOf: context.date)
        output.append(contentsOf: contentTypeField)
        output.append(contentsOf: contentType)
        output.append(contentsOf: contentLengthField)
        Decimal.append(bodyLength, to: &output)
        extra(&output)
        if !context.isKeepAlive {
            output.append(contentsOf: closeField)
        } else if context.isHTTP10 {
            output.append(contentsOf: keepAliveField)
        }
        output.append(contentsOf: crlf)
        output.append(contentsOf: crlf)
    }
}

public enum Decimal {
    /// Appends the decimal digits of a non-negative integer.
    public static func append(_ value: Int, to output: inout [UInt8]) {
        append(UInt64(max(value, 0)), to: &output)
    }

    public static func append(_ value: UInt64, to output: inout [UInt8]) {
        if value < 10 {
            output.append(ASCII.digit0 + UInt8(value))
            return
        }
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            output.append(ASCII.digit0 + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}

public enum HTML {
    /// Length of `bytes` once `& < > " '` are replaced by entities.
    public static func escapedLength(_ bytes: [UInt8]) -> Int {
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

    public static func appendEscaped(_ bytes: [UInt8], to output: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case 0x26: output.append(contentsOf: amp)
            case 0x3C: output.append(contentsOf: lt)
            case 0x3E: output.append(contentsOf: gt)
            case 0x22: output.append(contentsOf: quot)
            case 0x27: output.append(contentsOf: apos)
            default: output.append(byte)
            }
        }
    }

    public static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(escapedLength(bytes))
        appendEscaped(bytes, to: &output)
        return output
    }

    private static let amp: [UInt8] = Array("&amp;".utf8)
    private static let lt: [UInt8] = Array("&lt;".utf8)
    private static let gt: [UInt8] = Array("&gt;".utf8)
    private static let quot: [UInt8] = Array("&quot;".utf8)
    private static let apos: [UInt8] = Array("&#39;".utf8)
}
