// Responses: exact Content-Length, escaped bodies, HEAD without body, connection headers,
// the Date format, and the response parser reading them back.

import Testing
@testable import LinkRingCore

func parseResponse(_ buffer: [UInt8], isHead: Bool = false) -> HTTPResponseHead? {
    if case .response(let head) = HTTPResponseParser.parse(buffer, from: 0, to: buffer.count, isHeadRequest: isHead, recordingFields: true) { return head }
    return nil
}

func header(_ name: String, in head: HTTPResponseHead, _ buffer: [UInt8]) -> String? {
    for field in head.fields where String(decoding: buffer[field.name], as: UTF8.self).lowercased() == name.lowercased() {
        return String(decoding: buffer[field.value], as: UTF8.self)
    }
    return nil
}

let date = HTTPDate.format(unixSeconds: 1_795_563_656)

@Suite("Responses")
struct ResponseTests {
    @Test("a redirect has Location (percent-encoded where needed), an exact Content-Length and an escaped body")
    func redirect() throws {
        var output: [UInt8] = []
        let location = bytes("http://x/?a=1&b=<2>\"'")
        Response.appendRedirect(to: &output, location: location, ResponseContext(date: date, isKeepAlive: true))
        let head = try #require(parseResponse(output))
        #expect(head.status == 307 && head.end == output.count && head.isKeepAlive)
        #expect(header("Location", in: head, output) == "http://x/?a=1&b=%3C2%3E%22'", "< > \" are percent-encoded")
        #expect(header("Content-Type", in: head, output) == "text/html; charset=utf-8")
        #expect(header("Server", in: head, output) == "linkring")
        let body = String(decoding: output[head.body], as: UTF8.self)
        #expect(body.contains("http://x/?a=1&amp;b=&lt;2&gt;&quot;&#39;") && !body.contains("<2>"))
    }

    @Test("HEAD has the GET headers and no body; close and HTTP/1.0 keep-alive are announced")
    func headAndConnection() throws {
        var get: [UInt8] = []
        var headOnly: [UInt8] = []
        Response.appendRedirect(to: &get, location: bytes("http://x"), ResponseContext(date: date, isKeepAlive: true))
        Response.appendRedirect(to: &headOnly, location: bytes("http://x"), ResponseContext(date: date, isKeepAlive: true, isHead: true))
        let full = try #require(parseResponse(get))
        #expect(Array(get[..<full.body.lowerBound]) == headOnly)
        var closing: [UInt8] = []
        Response.append(to: &closing, .badRequest, contentType: ContentType.html, body: bytes("x"), ResponseContext(date: date, isKeepAlive: false))
        #expect(String(decoding: closing, as: UTF8.self).contains("\r\nConnection: close\r\n"))
        var http10: [UInt8] = []
        Response.append(to: &http10, .ok, contentType: ContentType.html, body: bytes("x"), ResponseContext(date: date, isKeepAlive: true, isHTTP10: true))
        #expect(String(decoding: http10, as: UTF8.self).contains("\r\nConnection: keep-alive\r\n"))
    }

    @Test("a versioned internal answer carries the value, X-Version and X-Recovering, and nothing else",
          arguments: [(true, false, false), (true, true, false), (false, false, true), (true, false, true), (false, true, false)])
    func versioned(found: Bool, recovering: Bool, isHead: Bool) throws {
        let value = found ? bytes("http://example.com/a?b=1&c=2") : []
        let version: UInt64 = 0x0193_5E2A_1234_5678
        let status: HTTPStatus = found ? .ok : .notFound
        var output: [UInt8] = []
        Response.appendVersioned(to: &output, status, value: value, version: version, isRecovering: recovering,
                                 ResponseContext(date: date, isKeepAlive: true, isHead: isHead))
        let head = try #require(parseResponse(output, isHead: isHead))
        #expect(head.status == status.rawValue && head.version == version && head.isRecovering == recovering)
        #expect(head.end == output.count && Array(output[head.body]) == (isHead ? [] : value) && head.isKeepAlive)
        let names = head.fields.map { String(decoding: output[$0.name], as: UTF8.self) }
        #expect(names == ["Content-Length", "X-Version"] + (recovering ? ["X-Recovering"] : []))
        #expect(header("Content-Length", in: head, output) == "\(value.count)")
        var closing: [UInt8] = []
        Response.appendVersioned(to: &closing, status, value: value, version: version, isRecovering: recovering,
                                 ResponseContext(date: date, isKeepAlive: false))
        #expect(try #require(parseResponse(closing)).isKeepAlive == false)
    }

    @Test("pages escape what they show")
    func pagesEscape() {
        let page = String(decoding: Pages.recorded(ShortLong(short: bytes("a"), long: bytes("http://x/<script>"))), as: UTF8.self)
        #expect(page.contains("&lt;script&gt;") && !page.contains("<script>"))
        let failure = String(decoding: Pages.failure(HTTPParseFailure(.badRequest, "bad <b>")), as: UTF8.self)
        #expect(failure.contains("400 Bad Request") && failure.contains("bad &lt;b&gt;"))
    }

    @Test("the Recorded page, written straight, is the page its pieces make", arguments: [
        ("a", "http://b"), ("abc-_9", "https://example.com/x?a=1&b='2'&c=\"3\"#<frag>"), ("x'y&<z>\"", "http://é.example/ü"),
    ])
    func recordedIsItsPieces(short: String, long: String) {
        let pair = ShortLong(short: bytes(short), long: bytes(long))
        let pieces = Pages.page("Recorded", [.text("Recorded "), .code(pair.short), .text(" \u{2192} "), .link(pair.long), .text(".")],
                                next: [.text("Follow it at "), .link(bytes("/") + pair.short), .text(", or make another link on the "),
                                       .namedLink(href: bytes("/"), text: "home page")])
        #expect(String(decoding: Pages.recorded(pair), as: UTF8.self) == String(decoding: pieces, as: UTF8.self))
    }

    @Test("page text is escaped whole or byte by byte alike")
    func textEscapes() {
        var plain: [UInt8] = [], marked: [UInt8] = []
        Pages.appendEscaped("Follow it at ", to: &plain)
        Pages.appendEscaped("a & b <c> \"d\" 'e' \u{2192}", to: &marked)
        #expect(String(decoding: plain, as: UTF8.self) == "Follow it at ")
        #expect(String(decoding: marked, as: UTF8.self) == "a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; \u{2192}")
    }

    @Test("Date is the IMF-fixdate of the time", arguments: [
        (Int64(0), "Thu, 01 Jan 1970 00:00:00 GMT"),
        (Int64(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT"),
        (Int64(1_795_563_656), "Tue, 24 Nov 2026 23:40:56 GMT"),
        (Int64(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT"),
    ])
    func httpDate(seconds: Int64, expected: String) {
        #expect(String(decoding: HTTPDate.format(unixSeconds: seconds), as: UTF8.self) == expected)
    }

    @Test("ISO timestamps have milliseconds")
    func iso() {
        #expect(Timestamp.iso8601(unixMs: 1_795_563_656_123) == "2026-11-24T23:40:56.123Z")
    }

    @Test("decimal digits", arguments: [UInt64(0), 7, 9, 10, 99, 100, 12345, UInt64(Int32.max), 0x0193_5E2A_1234_5678,
                                         UInt64.max / 10, UInt64.max - 1, UInt64.max])
    func decimal(value: UInt64) {
        var output: [UInt8] = []
        Decimal.append(value, to: &output)
        #expect(String(decoding: output, as: UTF8.self) == String(value))
    }

    @Test("escaped lengths match the escaped bytes")
    func escapedLength() {
        for text in ["", "plain", "&", "<>", "\"'", "a&b<c>d\"e'f"] {
            #expect(HTML.escapedLength(bytes(text)) == HTML.escaped(bytes(text)).count, "\(text)")
        }
        #expect(HTML.escaped(bytes("a&b<c>d\"e'f")) == bytes("a&amp;b&lt;c&gt;d&quot;e&#39;f"))
        #expect(HTML.escaped(bytes("http://example.com/x?y=1")) == bytes("http://example.com/x?y=1"))
    }

    @Test("the response parser waits for the whole body, then reads version and framing")
    func responseParser() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Version: 42\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        let buffer = bytes(text)
        for cut in 0..<buffer.count {
            let partial = HTTPResponseParser.parse(buffer, from: 0, to: cut)
            if cut < 52 { #expect(partial == .needMore, "cut \(cut)") }
        }
        let first = try #require(parseResponse(buffer))
        #expect(first.status == 200 && first.version == 42 && String(decoding: buffer[first.body], as: UTF8.self) == "hello")
        guard case .response(let second) = HTTPResponseParser.parse(buffer, from: first.end, to: buffer.count) else {
            Issue.record("second response expected")
            return
        }
        #expect(second.status == 404 && !second.isKeepAlive && second.end == buffer.count)
        #expect(HTTPResponseParser.parse(bytes("garbage\r\n\r\n"), from: 0, to: 11) == .failure("bad status line"))
    }
}
