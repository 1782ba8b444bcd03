// The public API's query rules and routing: short first to the first '&', long to the end,
// the other order where unambiguous, percent-decoding, validation, and the routes.

import Testing
@testable import LinkRingCore

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func parseQuery(_ query: String) -> Result<ShortLong, HTTPParseFailure> {
    let buffer = bytes(query)
    return ShortLongQuery.parse(buffer, 0..<buffer.count, rules: .standard)
}

func interpret(_ request: String) -> PublicRequest {
    let buffer = bytes(request)
    guard case .head(let head) = { var parser = HTTPRequestParser(); return parser.parse(buffer, from: 0, to: buffer.count) }() else {
        return .reject(HTTPParseFailure(.badRequest, "unparsed"))
    }
    return PublicRequest.interpret(head, buffer, rules: .standard)
}

@Suite("Queries and routes")
struct QueryTests {
    @Test("long runs to the end of the query, keeping its own & and =")
    func longRunsToEnd() throws {
        let pair = try parseQuery("short=abc&long=http://x/?a=1&b=2").get()
        #expect(pair.short == bytes("abc"))
        #expect(pair.long == bytes("http://x/?a=1&b=2"))
    }

    @Test("the other order works, splitting at the last &short=")
    func longFirst() throws {
        let pair = try parseQuery("long=http://x/?a=1&b=2&short=xyz").get()
        #expect(pair.short == bytes("xyz") && pair.long == bytes("http://x/?a=1&b=2"))
        let tricky = try parseQuery("long=http://x/?short=1&short=last").get()
        #expect(tricky.short == bytes("last") && tricky.long == bytes("http://x/?short=1"))
    }

    @Test("short is percent-decoded; a wholly encoded long (scheme%3A…) is decoded once")
    func percentDecoding() throws {
        let pair = try parseQuery("short=a%2Db&long=http%3A%2F%2Fx%2F%3Fq%3D1%26r%3D2").get()
        #expect(pair.short == bytes("a-b") && pair.long == bytes("http://x/?q=1&r=2"))
        #expect(PercentDecoding.decode(bytes("%zz"), 0..<3) == nil)
        #expect(PercentDecoding.decode(bytes("ab%4"), 0..<4) == nil)
        #expect(PercentDecoding.decode(bytes("a+b"), 0..<3) == bytes("a+b"))
        var encoded: [UInt8] = []
        PercentDecoding.encode(bytes("a b/é"), into: &encoded)
        #expect(encoded == bytes("a%20b%2F%C3%A9"))
    }

    @Test("invalid queries are refused with a reason", arguments: [
        "short=abc", "long=http://x", "short=&long=http://x", "short=a/b&long=http://x",
        "short=abc&long=", "short=abc&long=http%3A%2F%2Fx%2F%0D%0ASet-Cookie:1", "short=abc&long=has space",
        "short=abc&long=a%zz", "short=a%zzb&long=http://x", "other=1", "short=abc&other=1&long=http://x",
        "short=\(String(repeating: "s", count: 129))&long=http://x",
        "short=abc&long=http://x/\(String(repeating: "l", count: 4097 - 9))",
    ])
    func invalid(query: String) {
        guard case .failure(let failure) = parseQuery(query) else {
            Issue.record("\(query) should be refused")
            return
        }
        #expect(failure.status == .badRequest && !failure.reason.isEmpty)
    }

    @Test("limits are inclusive: 128-byte short and 4096-byte long are accepted")
    func inclusiveLimits() throws {
        let short = String(repeating: "s", count: 128)
        let long = "http://x/" + String(repeating: "l", count: 4096 - 9)
        let pair = try parseQuery("short=\(short)&long=\(long)").get()
        #expect(pair.short.count == 128 && pair.long.count == 4096)
    }

    @Test("routes: GET/HEAD/DELETE of /S, PUT of /?query, /_/ operator paths, 405 and 400")
    func routes() {
        #expect(interpret("GET /abc HTTP/1.1\r\nHost: x\r\n\r\n") == .get(short: bytes("abc"), isHead: false))
        #expect(interpret("HEAD /abc?utm=1 HTTP/1.1\r\nHost: x\r\n\r\n") == .get(short: bytes("abc"), isHead: true))
        #expect(interpret("DELETE /abc HTTP/1.1\r\nHost: x\r\n\r\n") == .delete(short: bytes("abc")))
        #expect(interpret("PUT /?short=a&long=http://b HTTP/1.1\r\nHost: x\r\n\r\n") == .put(ShortLong(short: bytes("a"), long: bytes("http://b"))))
        guard case .operatorRoute(let path, let query) = interpret("GET /_/health?x=1 HTTP/1.1\r\nHost: x\r\n\r\n") else {
            Issue.record("operator route expected")
            return
        }
        #expect(path.count == 6 && query?.count == 3)
        if case .reject(let failure) = interpret("POST /abc HTTP/1.1\r\nHost: x\r\n\r\n") {
            #expect(failure.status == .methodNotAllowed)
        } else { Issue.record("POST should be 405") }
        #expect(interpret("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == .home(isHead: false), "/ is the home page now (issue 17)")
        for request in ["GET /a/b HTTP/1.1\r\nHost: x\r\n\r\n", "PUT /abc HTTP/1.1\r\nHost: x\r\n\r\n",
                        "GET /a%ZZ HTTP/1.1\r\nHost: x\r\n\r\n", "PUT / HTTP/1.1\r\nHost: x\r\n\r\n"] {
            if case .reject(let failure) = interpret(request) {
                #expect(failure.status == .badRequest, "\(request.debugDescription)")
            } else { Issue.record("\(request.debugDescription) should be 400") }
        }
    }

    @Test("internal routes carry a version and reuse the public query rules")
    func internalRoutes() throws {
        func parse(_ method: HTTPMethod, _ query: String, body: String = "") -> Result<InternalRequest, HTTPParseFailure> {
            let buffer = bytes(query + body)
            return InternalRequest.parse(method, buffer, query: 0..<query.utf8.count, body: query.utf8.count..<buffer.count,
                                         rules: .standard)
        }
        #expect(try parse(.put, "v=42&short=a", body: "http://x/?y=1&z=2").get()
                == .write(LogRecord(version: 42, op: .put, key: bytes("a"), value: bytes("http://x/?y=1&z=2"))))
        #expect((try? parse(.put, "v=42&short=a", body: "").get()) == nil, "an empty long URL is refused")
        #expect((try? parse(.put, "v=42&short=a", body: "has space").get()) == nil)
        #expect(try parse(.delete, "v=7&short=a").get() == .write(LogRecord(version: 7, op: .delete, key: bytes("a"))))
        #expect(try parse(.get, "short=a").get() == .read(key: bytes("a")))
        for bad in ["short=a", "v=&short=a", "v=0&short=a", "v=99999999999999999999999&short=a", "v=1", "v=1x&short=a"] {
            #expect((try? parse(.put, bad, body: "http://b").get()) == nil, "\(bad)")
        }
    }
}
