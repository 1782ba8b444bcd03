// The internal protocol's codec round-trips through the node's own parsers: every request the
// encoder makes, fed to HTTPRequestParser (whole and one byte at a time) and then to the node's
// route parsers (InternalRequest, QueryNumbers, SyncCodec, the token gate), gives back the
// values it was made from; every answer a node writes, read by HTTPResponseParser and decoded
// as the proxy does, gives back the meaning it was written with. Known-answer bytes pin the
// head layout, so the wire cannot change silently.

import Testing
@testable import LinkRingCore

@Suite("Internal protocol: one codec, round trips through the node's parsers")
struct InternalProtocolTests {
    static let token = bytes("s3cret-token")
    let encoder = InternalRequestEncoder(host: InternalRequestEncoder.clusterHost, clusterToken: InternalProtocolTests.token)
    let peer = InternalRequestEncoder(host: "127.0.0.1:9001", clusterToken: InternalProtocolTests.token)

    /// A request as the node sees it: its head, the route under /_/ and its query.
    struct Received {
        var head: HTTPRequestHead
        var buffer: [UInt8]
        var route: String
        var query: Range<Int>?
        var body: Range<Int> { head.bodyStart..<head.bodyStart + head.contentLength }
        var token: [UInt8]? { head.clusterToken.map { Array(buffer[$0]) } }
    }

    /// Parses `request` whole and one byte at a time (the same head both ways), and routes it.
    func receive(_ request: [UInt8]) throws -> Received {
        let whole = try #require(head(parseIncrementally([request])), "\(String(decoding: request, as: UTF8.self))")
        #expect(head(parseIncrementally(request.map { [$0] })) == whole, "byte by byte")
        #expect(whole.bodyStart + whole.contentLength == request.count, "the body is all that follows the head")
        guard case .operatorRoute(let path, let query) = PublicRequest.interpret(whole, request, rules: .standard) else {
            Issue.record("not an internal route")
            throw InternalProtocolTestFailure()
        }
        return Received(head: whole, buffer: request, route: String(decoding: request[path], as: UTF8.self), query: query)
    }

    struct InternalProtocolTestFailure: Error {}

    @Test("the head layout, byte for byte: request line, Host, token, Content-Length on PUT/DELETE/POST")
    func knownAnswers() {
        let tokenLine = "X-Cluster-Token: s3cret-token\r\n"
        #expect(encoder.makeRead(key: bytes("abc")) == bytes("GET /_/kv?short=abc HTTP/1.1\r\nHost: linkring\r\n\(tokenLine)\r\n"))
        #expect(encoder.makeWrite(LogRecord(version: 42, op: .put, key: bytes("k"), value: bytes("http://x/")))
            == bytes("PUT /_/kv?v=42&short=k HTTP/1.1\r\nHost: linkring\r\n\(tokenLine)Content-Length: 9\r\n\r\nhttp://x/"))
        #expect(encoder.makeWrite(LogRecord(version: 7, op: .delete, key: bytes("k")))
            == bytes("DELETE /_/kv?v=7&short=k HTTP/1.1\r\nHost: linkring\r\n\(tokenLine)Content-Length: 0\r\n\r\n"))
        #expect(encoder.makeDeleteIfLive(LogRecord(version: 7, op: .delete, key: bytes("k")))
            == bytes("DELETE /_/kv?v=7&if=live&short=k HTTP/1.1\r\nHost: linkring\r\n\(tokenLine)Content-Length: 0\r\n\r\n"))
        #expect(peer.makeHealthPing() == bytes("GET /_/health HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n"))
        #expect(peer.makeDigests() == bytes("GET /_/digests HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\(tokenLine)\r\n"))
        #expect(peer.makeKeysPage(range: 12, from: 3400)
            == bytes("GET /_/keys?r=12&from=3400 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\(tokenLine)\r\n"))
        #expect(peer.makeRecords(keys: [bytes("ab")])
            == bytes("POST /_/records HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\(tokenLine)Content-Length: 4\r\n\r\n") + [2, 0] + bytes("ab"))
        let tokenless = InternalRequestEncoder(host: "n", clusterToken: nil)
        #expect(tokenless.makeRead(key: bytes("a")) == bytes("GET /_/kv?short=a HTTP/1.1\r\nHost: n\r\n\r\n"))
    }

    @Test("a read round-trips to InternalRequest.read with the key, the token and Host")
    func read() throws {
        for key in [bytes("a"), bytes("Some-key_1.~"), [UInt8](repeating: 0x7A, count: Limits.shortBytesMax)] {
            let received = try receive(encoder.makeRead(key: key))
            #expect(received.head.method == .get && received.route == "kv")
            #expect(received.token == Self.token)
            #expect(ClusterTokenGate(token: Self.token).admits(received.head, received.buffer))
            #expect(try InternalRequest.parse(.get, received.buffer, query: received.query, rules: .standard).get() == .read(key: key))
        }
    }

    @Test("PUT and DELETE round-trip to InternalRequest.write with the same record",
          arguments: [LogRecord(version: 1, op: .put, key: bytes("k"), value: bytes("https://x.example/a?b=1&c=%20")),
                      LogRecord(version: UInt64.max, op: .put, key: bytes("k"),
                                value: bytes("http://x/") + [UInt8](repeating: 0x61, count: Limits.longBytesMax - 9)),
                      LogRecord(version: 0x0123_4567_89AB_CDEF, op: .delete, key: bytes("gone"))])
    func write(record: LogRecord) throws {
        let received = try receive(encoder.makeWrite(record))
        #expect(received.head.method == (record.op == .put ? .put : .delete) && received.route == "kv")
        #expect(received.token == Self.token)
        let parsed = InternalRequest.parse(received.head.method, received.buffer, query: received.query, body: received.body,
                                           rules: .standard)
        #expect(try parsed.get() == .write(record))
    }

    @Test("a conditional DELETE round-trips to InternalRequest.deleteIfLive; if=live on a PUT, or after the key, is refused",
          arguments: [bytes("gone"), [UInt8](repeating: 0x7A, count: Limits.shortBytesMax)])
    func deleteIfLive(key: [UInt8]) throws {
        let record = LogRecord(version: 0x0123_4567_89AB_CDEF, op: .delete, key: key)
        let received = try receive(encoder.makeDeleteIfLive(record))
        #expect(received.head.method == .delete && received.route == "kv" && received.token == Self.token)
        #expect(try InternalRequest.parse(.delete, received.buffer, query: received.query, rules: .standard).get() == .deleteIfLive(record))
        for query in ["v=7&if=live&short=k", "v=7&short=k&if=live", "v=7&if=lively&short=k"] {
            let buffer = bytes(query)
            let method: HTTPMethod = query == "v=7&if=live&short=k" ? .put : .delete
            let parsed = InternalRequest.parse(method, buffer, query: 0..<buffer.count, body: 0..<0, rules: .standard)
            #expect((try? parsed.get()) == nil, "\(method) \(query)")
        }
    }

    @Test("a health ping carries no token and passes the gate as a health check")
    func healthPing() throws {
        let received = try receive(peer.makeHealthPing())
        #expect(received.head.method == .get && received.route == "health" && received.query == nil)
        #expect(received.token == nil)
        #expect(ClusterTokenGate(token: Self.token).admits(received.head, received.buffer))
    }

    @Test("the repair requests round-trip to their routes, query numbers and key bodies")
    func repair() throws {
        let digests = try receive(peer.makeDigests())
        #expect(digests.head.method == .get && digests.route == "digests" && digests.query == nil && digests.token == Self.token)

        for (range, offset) in [(0, UInt32(0)), (131_070, UInt32(999_000)), (5, SyncCodec.endOfRange - 1)] {
            let page = try receive(peer.makeKeysPage(range: range, from: offset))
            #expect(page.head.method == .get && page.route == "keys" && page.token == Self.token)
            #expect(QueryNumbers.parse(page.buffer, page.query, names: ["r", "from"]) == [UInt64(range), UInt64(offset)])
        }

        let keys = (0..<Limits.repairRecordsPerRequest).map { [UInt8](repeating: 0x61 + UInt8($0 % 26), count: 1 + $0 % Limits.shortBytesMax) }
        let records = try receive(peer.makeRecords(keys: keys))
        #expect(records.head.method == .post && records.route == "records" && records.token == Self.token)
        #expect(SyncCodec.decodeKeys(records.buffer, records.body) == keys)
    }

    @Test("a request's summary for log lines is its method and target")
    func summary() {
        #expect(InternalRequestEncoder.summary(of: peer.makeKeysPage(range: 3, from: 1000)) == "GET /_/keys?r=3&from=1000")
        #expect(InternalRequestEncoder.summary(of: peer.makeRecords(keys: [bytes("a")])) == "POST /_/records")
    }

    // MARK: answers

    static let context = ResponseContext(date: bytes("Thu, 26 Nov 2026 08:00:00 GMT"), isKeepAlive: true)

    /// An answer as the proxy's node connection reads it.
    func parseAnswer(_ answer: [UInt8]) throws -> (head: HTTPResponseHead, body: [UInt8]) {
        guard case .response(let head) = HTTPResponseParser.parse(answer, from: 0, to: answer.count) else {
            Issue.record("not a whole answer: \(String(decoding: answer, as: UTF8.self))")
            throw InternalProtocolTestFailure()
        }
        #expect(head.end == answer.count)
        return (head, Array(answer[head.body]))
    }

    func decode(_ answer: WriteAnswer) throws -> WriteReply {
        var output: [UInt8] = []
        Response.appendInternal(to: &output, answer.status, body: answer.body, extraHeaders: answer.extraHeaders, Self.context)
        let (head, body) = try parseAnswer(output)
        return WriteReply(status: head.status, version: head.version, body: body)
    }

    @Test("every write answer a node gives decodes on the proxy to the same meaning")
    func writeAnswers() throws {
        #expect(try decode(.acknowledged(existed: true)) == .acknowledged(existed: true))
        #expect(try decode(.acknowledged(existed: false)) == .acknowledged(existed: false))
        #expect(try decode(.newer(version: UInt64.max)) == .newer(version: UInt64.max))
        #expect(try decode(.newer(version: 1)) == .newer(version: 1))
        let reason = "version 9 is 5000 ms ahead of this node's clock (limit 1000 ms, --clock-skew-ms): check NTP"
        #expect(try decode(.refusedAhead(reason: reason)) == .refusedAhead(reason: reason))
        let long = String(repeating: "x", count: 2 * Limits.quotedReasonBytesMax)
        #expect(try decode(.refusedAhead(reason: long)) == .refusedAhead(reason: String(long.prefix(Limits.quotedReasonBytesMax))))
    }

    @Test("a write answer carries only what the proxy reads: status, Content-Length, X-Version on a 409 or 412, the body")
    func writeAnswerBytes() {
        func text(_ answer: WriteAnswer, _ context: ResponseContext = Self.context) -> String {
            var output: [UInt8] = []
            Response.appendInternal(to: &output, answer.status, body: answer.body, extraHeaders: answer.extraHeaders, context)
            return String(decoding: output, as: UTF8.self)
        }
        #expect(text(.acknowledged(existed: false)) == "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nabsent\n")
        #expect(text(.acknowledged(existed: true)) == "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nexisted\n")
        #expect(text(.newer(version: 42)) == "HTTP/1.1 409 Conflict\r\nContent-Length: 19\r\nX-Version: 42\r\n\r\nnewer version held\n")
        #expect(text(.taken(version: 7, value: bytes("http://a/"))) == "HTTP/1.1 412 Precondition Failed\r\nContent-Length: 9\r\nX-Version: 7\r\n\r\nhttp://a/")
        let closing = ResponseContext(date: Self.context.date, isKeepAlive: false)
        #expect(text(.acknowledged(existed: false), closing) == "HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nabsent\n")
    }

    @Test("a node's 400 page is a refused input; a 5xx, or a 409 without X-Version, a failure")
    func writeFailures() throws {
        var page: [UInt8] = []
        let failure = HTTPParseFailure(.badRequest, "The long URL must start with http:// or https:// and name a host.")
        Response.append(to: &page, failure.status, contentType: ContentType.html, body: Pages.failure(failure), Self.context)
        let (head, body) = try parseAnswer(page)
        #expect(WriteReply(status: head.status, version: head.version, body: body) == .refusedInput)
        #expect(WriteReply(status: 503, version: nil, body: bytes("log failed")) == .failed)
        #expect(WriteReply(status: 409, version: nil, body: WriteAnswer.newerBody) == .failed)
        #expect(WriteReply(status: 200, version: nil, body: bytes("something else\n")) == .acknowledged(existed: false))
    }

    @Test("read answers decode to found, missing (with readiness) or failed",
          arguments: [false, true])
    func readAnswers(isRecovering: Bool) throws {
        var found: [UInt8] = []
        Response.appendVersioned(to: &found, .ok, value: bytes("http://x/"), version: 77, isRecovering: isRecovering, Self.context)
        let (foundHead, foundBody) = try parseAnswer(found)
        let foundReply = ReadReply(status: foundHead.status, body: foundBody, isRecovering: foundHead.isRecovering)
        #expect(foundReply == .found(location: bytes("http://x/"), isRecovering: isRecovering))
        #expect(foundReply.isFromRecoveringNode == isRecovering)

        var missing: [UInt8] = []
        Response.appendVersioned(to: &missing, .notFound, value: [], version: 0, isRecovering: isRecovering, Self.context)
        let (missingHead, missingBody) = try parseAnswer(missing)
        #expect(ReadReply(status: missingHead.status, body: missingBody, isRecovering: missingHead.isRecovering)
            == .missing(isRecovering: isRecovering))
        #expect(ReadReply(status: 503, body: [], isRecovering: isRecovering) == .failed)
        #expect(!ReadReply.failed.isFromRecoveringNode)
    }
}
