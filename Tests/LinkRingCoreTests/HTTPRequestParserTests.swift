// The request parser gives the same answer however the bytes arrive (whole, one byte at a
// time, or split at any position), and answers every malformed or oversize input with its status.

import Testing
@testable import LinkRingCore

/// Feeds `chunks` one after another, as a connection would; returns the first non-needMore
/// result (or needMore if the input never completes).
func parseIncrementally(_ chunks: [[UInt8]]) -> HTTPParseResult {
    var parser = HTTPRequestParser()
    var buffer: [UInt8] = []
    for chunk in chunks {
        buffer += chunk
        let start = HTTPRequestParser.skipEmptyLines(buffer, from: 0, to: buffer.count)
        guard start < buffer.count else { continue }
        let result = parser.parse(buffer, from: start, to: buffer.count)
        if result != .needMore { return result }
    }
    return .needMore
}

func parseWhole(_ text: String) -> HTTPParseResult { parseIncrementally([Array(text.utf8)]) }

func head(_ result: HTTPParseResult) -> HTTPRequestHead? {
    if case .head(let head) = result { return head }
    return nil
}

func status(_ result: HTTPParseResult) -> HTTPStatus? {
    failure(result)?.status
}

func failure(_ result: HTTPParseResult) -> HTTPParseFailure? {
    if case .failure(let failure) = result { return failure }
    return nil
}

let requestCorpus: [String] = [
    "GET /abc HTTP/1.1\r\nHost: x\r\n\r\n",
    "PUT /?short=a&long=http://x/?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "DELETE /a HTTP/1.1\nHost: x\n\n",
    "HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n",
    "GET /_/kv?short=a HTTP/1.1\r\nHost: x\r\nX-Cluster-Token:  secret \r\n\r\n",
    "PUT /x HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\nExpect: 100-continue\r\n\r\nhello",
    "\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS /a HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88\r\nAccept: */*\r\n\r\n",
    "GET /a\r\n\r\n",
    "GET  /a HTTP/1.1\r\n\r\n",
    "GET a HTTP/1.1\r\n\r\n",
    "GET /a HTTP/2.0\r\n\r\n",
    "GET /a HTTX/1.1\r\n\r\n",
    "GET /a HTTP/1.1\r\nBad Header: x\r\n\r\n",
    "GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    "GET /a HTTP/1.1\r\nHost: a\rb\r\n\r\n",
    "GET /a HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    "GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET /a HTTP/1.1\r\nExpect: something\r\n\r\n",
    "GET /a HTTP/1.1\r\nContent-Length: 70000\r\n\r\n",
    "G\u{1}T /a HTTP/1.1\r\n\r\n",
    "GET /a\u{7F} HTTP/1.1\r\n\r\n",
    "GET /a HTTP/1.1\r\nConnection: close, keep-alive\r\nHost: x\r\n\r\n",
    "GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, CLOSE\r\n\r\n",
    "GET /a HTTP/1.1\r\nUser-Agent: t\r\n\r\n",
    "GET /a HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n",
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "GET /a HTTP/3\r\n\r\n",
    "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\nabcdefg",
]

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    @Test("every corpus request parses the same whole, byte by byte, and split at every position")
    func incrementalEqualsWhole() {
        for text in requestCorpus {
            let bytes = Array(text.utf8)
            let whole = parseIncrementally([bytes])
            #expect(whole != .needMore, "\(text.debugDescription) should complete")
            #expect(parseIncrementally(bytes.map { [$0] }) == whole, "byte by byte: \(text.debugDescription)")
            for split in 1..<bytes.count {
                #expect(parseIncrementally([Array(bytes[..<split]), Array(bytes[split...])]) == whole,
                        "split at \(split): \(text.debugDescription)")
            }
        }
    }

    @Test("well-formed requests give method, target, version and connection semantics")
    func wellFormed() throws {
        let text = "PUT /?short=a&long=http://x/?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        let parsed = try #require(head(parseWhole(text)))
        let bytes = Array(text.utf8)
        #expect(parsed.method == .put)
        #expect(Array(bytes[parsed.target]) == Array("/?short=a&long=http://x/?a=1&b=2".utf8))
        #expect(parsed.isKeepAlive && !parsed.isHTTP10)
        #expect(parsed.bodyStart == bytes.count)

        let http10 = try #require(head(parseWhole("GET / HTTP/1.0\r\n\r\n")))
        #expect(http10.isHTTP10 && !http10.isKeepAlive)
        let http10KeepAlive = try #require(head(parseWhole("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")))
        #expect(http10KeepAlive.isKeepAlive)
        let close = try #require(head(parseWhole("HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close\r\n\r\n")))
        #expect(close.method == .head && !close.isKeepAlive)
        let bareLF = try #require(head(parseWhole("DELETE /a HTTP/1.1\nHost: x\n\n")))
        #expect(bareLF.method == .delete)
    }

    @Test("body length, 100-continue and the cluster token are read from the headers")
    func bodyAndToken() throws {
        let text = "PUT /x HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\nExpect: 100-continue\r\n\r\nhello"
        let parsed = try #require(head(parseWhole(text)))
        #expect(parsed.contentLength == 5 && parsed.expectsContinue)
        #expect(Array(Array(text.utf8)[parsed.bodyStart...]) == Array("hello".utf8))
        let tokenText = "GET /_/kv?short=a HTTP/1.1\r\nHost: x\r\nX-Cluster-Token:  secret \r\n\r\n"
        let withToken = try #require(head(parseWhole(tokenText)))
        let range = try #require(withToken.clusterToken)
        #expect(Array(Array(tokenText.utf8)[range]) == Array("secret".utf8))
    }

    @Test("a request that names a client behind it is marked forwarded, in any case; others are not", arguments: [
        ("X-Forwarded-For: 203.0.113.9", true), ("forwarded: for=203.0.113.9", true), ("X-REAL-IP: 203.0.113.9", true),
        ("X-Forwarded-Host: example.com", false), ("X-Cluster-Token: t", false), ("Forwarded-For: x", false), ("X-Real: x", false),
    ])
    func forwarded(header: String, isForwarded: Bool) throws {
        let text = "GET /_/status HTTP/1.1\r\nHost: x\r\n\(header)\r\n\r\n"
        for split in 0...text.utf8.count {
            let bytes = Array(text.utf8)
            let parsed = try #require(head(parseIncrementally([Array(bytes[..<split]), Array(bytes[split...])])))
            #expect(parsed.isForwarded == isForwarded, "\(header) split at \(split)")
        }
    }

    @Test("malformed requests get their status", arguments: [
        ("GET /a\r\n\r\n", HTTPStatus.badRequest),
        ("GET  /a HTTP/1.1\r\n\r\n", .badRequest),
        ("GET a HTTP/1.1\r\n\r\n", .badRequest),
        ("GET /a HTTP/2.0\r\n\r\n", .httpVersionNotSupported),
        ("GET /a HTTX/1.1\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\nBad Header: x\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\nHost: a\rb\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\nContent-Length: abc\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", .notImplemented),
        ("GET /a HTTP/1.1\r\nExpect: something\r\n\r\n", .expectationFailed),
        ("GET /a HTTP/1.1\r\nContent-Length: 70000\r\n\r\n", .payloadTooLarge),
        ("GET /a HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", .payloadTooLarge),
        ("G\u{1}T /a HTTP/1.1\r\n\r\n", .badRequest),
        ("GET /a\u{7F} HTTP/1.1\r\n\r\n", .badRequest),
        ("GET /a HTTP/1.1\r\n: empty-name\r\n\r\n", .badRequest),
    ])
    func malformed(text: String, expected: HTTPStatus) {
        #expect(status(parseWhole(text)) == expected, "\(text.debugDescription)")
    }

    @Test("a request line of exactly the limit parses; one byte more gets 414, even before its end arrives")
    func requestLineLimit() {
        let prefix = "GET /"
        let suffix = " HTTP/1.1"
        let fill = String(repeating: "a", count: Limits.requestLineBytesMax - prefix.count - suffix.count)
        #expect(head(parseWhole(prefix + fill + suffix + "\r\nHost: x\r\n\r\n")) != nil)
        #expect(status(parseWhole(prefix + fill + "a" + suffix + "\r\n\r\n")) == .uriTooLong)
        let endless = Array((prefix + fill + fill).utf8)
        #expect(status(parseIncrementally([endless])) == .uriTooLong)
    }

    @Test("a header block over the byte limit or the field limit gets 431")
    func headerLimits() {
        let field = "X-Fill: " + String(repeating: "b", count: 1000) + "\r\n"
        let many = String(repeating: field, count: Limits.headerBytesMax / field.utf8.count + 1)
        #expect(status(parseWhole("GET /a HTTP/1.1\r\n" + many + "\r\n")) == .headerFieldsTooLarge)
        #expect(status(parseIncrementally([Array(("GET /a HTTP/1.1\r\n" + many).utf8)])) == .headerFieldsTooLarge)
        let fields = "Host: x\r\n" + (1..<Limits.headerFieldsMax).map { "X-\($0): v\r\n" }.joined()
        #expect(head(parseWhole("GET /a HTTP/1.1\r\n" + fields + "\r\n")) != nil)
        #expect(status(parseWhole("GET /a HTTP/1.1\r\n" + fields + "X-Last: v\r\n\r\n")) == .headerFieldsTooLarge)
    }

    @Test("pipelined requests parse one after another from the same buffer")
    func pipelined() throws {
        let bytes = Array("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nDELETE /c HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        var start = 0
        var targets: [String] = []
        while start < bytes.count {
            let parsed = try #require(head(parser.parse(bytes, from: start, to: bytes.count)))
            targets.append(String(decoding: bytes[parsed.target], as: UTF8.self))
            parser.reset()
            start = parsed.bodyStart + parsed.contentLength
        }
        #expect(targets == ["/a", "/b", "/c"])
    }

    @Test("HTTP/1.1 needs exactly one Host header; HTTP/1.0 needs none")
    func host() throws {
        let missing = try #require(failure(parseWhole("GET /a HTTP/1.1\r\nUser-Agent: t\r\n\r\n")))
        #expect(missing.status == .badRequest && missing.reason.contains("Host"))
        #expect(status(parseWhole("GET /a HTTP/1.1\r\n\r\n")) == .badRequest)
        #expect(status(parseWhole("GET /a HTTP/1.1\r\nHost: x\r\nhost: y\r\n\r\n")) == .badRequest, "two Host lines")
        #expect(head(parseWhole("GET /a HTTP/1.1\r\nhOsT: x\r\n\r\n")) != nil, "the name is case-insensitive")
        #expect(head(parseWhole("GET /a HTTP/1.1\r\nHost:\r\n\r\n")) != nil, "an empty Host is a Host (RFC 9112 allows it)")
        #expect(head(parseWhole("GET /a HTTP/1.0\r\n\r\n")) != nil)
        #expect(head(parseWhole("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")) != nil)
    }

    @Test("Connection is a case-insensitive token list where close wins wherever it stands", arguments: [
        ("Connection: close, keep-alive\r\n", false),
        ("Connection: keep-alive, close\r\n", false),
        ("Connection: KEEP-ALIVE ,  Close \r\n", false),
        ("Connection: upgrade,close\r\n", false),
        ("Connection: close\r\nConnection: keep-alive\r\n", false),
        ("Connection: keep-alive\r\nConnection: close\r\n", false),
        ("Connection: keep-alive\r\n", true),
        ("Connection: closed, x-close\r\n", true),
        ("", true),
    ])
    func connectionTokens(field: String, isKeepAlive: Bool) throws {
        let parsed = try #require(head(parseWhole("GET /a HTTP/1.1\r\nHost: x\r\n" + field + "\r\n")))
        #expect(parsed.isKeepAlive == isKeepAlive, "\(field.debugDescription)")
        let http10 = try #require(head(parseWhole("GET /a HTTP/1.0\r\n" + field + "\r\n")))
        #expect(http10.isKeepAlive == (isKeepAlive && field.lowercased().contains("keep-alive")), "HTTP/1.0 \(field.debugDescription)")
    }

    @Test("the HTTP/2 preface and other versions get 505 with a clear reason; malformed versions 400", arguments: [
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTPStatus.httpVersionNotSupported),
        ("GET /a HTTP/2\r\n\r\n", .httpVersionNotSupported),
        ("GET /a HTTP/3\r\nHost: x\r\n\r\n", .httpVersionNotSupported),
        ("GET /a HTTP/1.2\r\nHost: x\r\n\r\n", .httpVersionNotSupported),
        ("GET /a HTTP/0.9\r\n\r\n", .httpVersionNotSupported),
        ("GET /a HTTP/1.1x\r\nHost: x\r\n\r\n", .badRequest),
        ("GET /a HTTP/12.0\r\n\r\n", .badRequest),
        ("GET /a HTTP/\r\n\r\n", .badRequest),
        ("GET /a http/1.1\r\n\r\n", .badRequest),
    ])
    func versions(text: String, expected: HTTPStatus) throws {
        let refused = try #require(failure(parseWhole(text)))
        #expect(refused.status == expected, "\(text.debugDescription)")
        if expected == .httpVersionNotSupported { #expect(refused.reason.contains("HTTP/1.1")) }
    }

    @Test("Content-Length may have leading zeros; the limit still holds however many digits")
    func leadingZeroContentLength() throws {
        let text = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\nabcdefg"
        #expect(try #require(head(parseWhole(text))).contentLength == 7)
        let manyZeros = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: \(String(repeating: "0", count: 40))12\r\n\r\n"
        #expect(try #require(head(parseWhole(manyZeros))).contentLength == 12)
        #expect(try #require(head(parseWhole("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n"))).contentLength == 0)
        let limit = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\(Limits.bodyBytesMax)\r\n\r\n"
        #expect(try #require(head(parseWhole(limit))).contentLength == Limits.bodyBytesMax)
        let over = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 000\(Limits.bodyBytesMax + 1)\r\n\r\n"
        #expect(status(parseWhole(over)) == .payloadTooLarge)
        let huge = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: \(String(repeating: "9", count: 60))\r\n\r\n"
        #expect(status(parseWhole(huge)) == .payloadTooLarge)
        let same = "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nContent-Length: 0007\r\n\r\nabcdefg"
        #expect(try #require(head(parseWhole(same))).contentLength == 7, "the same value twice, written differently")
    }
}
