// Incremental parser of HTTP/1.1 responses with Content-Length framing: what the proxy reads
// from nodes (and what tests read from servers). Like the request parser, it answers
// "need more" until a whole response (head and body) is in the buffer, then ranges into it.
// A response to HEAD has no body whatever its Content-Length says: the caller says so.

package struct HTTPResponseHead: Sendable, Equatable {
    package var status = 0
    package var contentLength = 0
    package var isKeepAlive = true
    /// The value of `X-Version`, if present and numeric.
    package var version: UInt64? = nil
    /// `X-Recovering: 1`: a node still catching up answered (its data may be behind).
    package var isRecovering = false
    /// Where the body starts and ends in the buffer.
    package var body: Range<Int> = 0..<0
    /// The offset just after this response (where the next one starts).
    package var end = 0
    /// Every header line, as ranges of name and value, when asked for (tests, diagnostics):
    /// the proxy's hot path does not pay for the array.
    package var fields: [(name: Range<Int>, value: Range<Int>)] = []

    package init() {}

    package static func == (lhs: HTTPResponseHead, rhs: HTTPResponseHead) -> Bool {
        lhs.status == rhs.status && lhs.contentLength == rhs.contentLength && lhs.isKeepAlive == rhs.isKeepAlive
            && lhs.version == rhs.version && lhs.isRecovering == rhs.isRecovering && lhs.body == rhs.body && lhs.end == rhs.end
    }
}

package enum HTTPResponseParseResult: Sendable, Equatable {
    case needMore
    case response(HTTPResponseHead)
    case failure(String)
}

package enum HTTPResponseParser {

    private static let contentLength: [UInt8] = Array("content-length".utf8)
    private static let connection: [UInt8] = Array("connection".utf8)
    private static let version: [UInt8] = Array("x-version".utf8)
    private static let close: [UInt8] = Array("close".utf8)
    private static let recovering: [UInt8] = Array("x-recovering".utf8)
    private static let protocolPrefix: [UInt8] = Array("HTTP/1.".utf8)

    package static func parse(_ buffer: [UInt8], from start: Int, to end: Int, isHeadRequest: Bool = false,
                             recordingFields: Bool = false) -> HTTPResponseParseResult {
        guard let headEnd = findHeadEnd(buffer, from: start, to: end) else {
            return end - start > Limits.answerHeadBytesMax ? .failure("response head too large") : .needMore
        }
        var head = HTTPResponseHead()
        var lineStart = start
        var isFirst = true
        while lineStart < headEnd {
            let line = ASCII.line(in: buffer, from: lineStart)
            if line.content.isEmpty { break }
            if isFirst {
                guard let status = parseStatusLine(buffer, line.content) else { return .failure("bad status line") }
                head.status = status.code
                head.isKeepAlive = !status.isHTTP10
                isFirst = false
            } else if let failure = parseField(buffer, line.content, into: &head, recording: recordingFields) {
                return .failure(failure)
            }
            lineStart = line.next
        }
        let bodyLength = isHeadRequest || head.status == 204 || head.status == 304 || head.status < 200 ? 0 : head.contentLength
        guard end - headEnd >= bodyLength else { return .needMore }
        head.body = headEnd..<headEnd + bodyLength
        head.end = headEnd + bodyLength
        return .response(head)
    }

    /// The offset after the blank line that ends the head, or nil.
    private static func findHeadEnd(_ buffer: [UInt8], from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if buffer[index] == ASCII.lf, index > start {
                if buffer[index - 1] == ASCII.lf { return index + 1 }
                if buffer[index - 1] == ASCII.cr, index - 2 >= start, buffer[index - 2] == ASCII.lf { return index + 1 }
            }
            index += 1
        }
        return nil
    }

    private static func parseStatusLine(_ buffer: [UInt8], _ line: Range<Int>) -> (code: Int, isHTTP10: Bool)? {
        guard line.count >= 12, ASCII.equals(buffer, line.lowerBound..<line.lowerBound + 7, protocolPrefix),
              buffer[line.lowerBound + 8] == ASCII.space else { return nil }
        var code = 0
        for index in line.lowerBound + 9..<line.lowerBound + 12 {
            guard ASCII.isDigit(buffer[index]) else { return nil }
            code = code * 10 + Int(buffer[index] - ASCII.digit0)
        }
        return (code, buffer[line.lowerBound + 7] == ASCII.digit0)
    }

    private static func parseField(_ buffer: [UInt8], _ line: Range<Int>, into head: inout HTTPResponseHead,
                                   recording: Bool) -> String? {
        var colon = line.lowerBound
        while colon < line.upperBound, buffer[colon] != ASCII.colon { colon += 1 }
        guard colon < line.upperBound, colon > line.lowerBound else { return "bad header line" }
        var valueStart = colon + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd, ASCII.isBlank(buffer[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, ASCII.isBlank(buffer[valueEnd - 1]) { valueEnd -= 1 }
        let name = line.lowerBound..<colon
        let value = valueStart..<valueEnd
        if recording { head.fields.append((name, value)) }
        if ASCII.equalsIgnoringCase(buffer, name, contentLength) {
            guard let length = Decimal.parse(buffer, value), length <= UInt64(Limits.answerBodyBytesMax) else { return "bad Content-Length" }
            head.contentLength = Int(length)
        } else if ASCII.equalsIgnoringCase(buffer, name, connection) {
            if ASCII.equalsIgnoringCase(buffer, value, close) { head.isKeepAlive = false }
        } else if ASCII.equalsIgnoringCase(buffer, name, version) {
            head.version = Decimal.parse(buffer, value)
        } else if ASCII.equalsIgnoringCase(buffer, name, recovering) {
            head.isRecovering = value.count == 1 && buffer[value.lowerBound] == ASCII.digit1
        }
        return nil
    }
}
