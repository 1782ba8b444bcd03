// The browser-facing surface of issue 17, without sockets: the form's decoding and limits,
// generated names, create-only requests (If-None-Match and PUT /?long=L), the write token,
// short URLs, the create-only internal write's round trip, and the pages' escaping.

import Testing
@testable import LinkRingCore

/// A whole request with its body, interpreted as a process does.
func interpretWithBody(_ head: String, body: String = "") -> PublicRequest {
    let buffer = bytes(head + body)
    var parser = HTTPRequestParser()
    guard case .head(let parsed) = parser.parse(buffer, from: 0, to: buffer.count) else {
        return .reject(HTTPParseFailure(.badRequest, "unparsed"))
    }
    return PublicRequest.interpret(parsed, buffer, body: parsed.bodyStart..<buffer.count, rules: .standard)
}

func formPost(_ body: String, contentType: String = "application/x-www-form-urlencoded") -> PublicRequest {
    interpretWithBody("POST / HTTP/1.1\r\nHost: s.example\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n",
                      body: body)
}

/// Numbers from a fixed list, then zeros: a generator whose draws a test chooses.
struct ScriptedGenerator: RandomNumberGenerator {
    var words: [UInt64]
    mutating func next() -> UInt64 { words.isEmpty ? 0 : words.removeFirst() }
}

@Suite("Browser pages, generated names, create-only writes")
struct BrowserSurfaceTests {
    @Test("the form is form-decoded (+ is a space, %XX a byte), trimmed, unknown fields ignored, the last repeat kept")
    func formDecoding() throws {
        let body = bytes("long=+https%3A%2F%2Fx.example%2Fa%3Fq%3D1%26r%3D2+&short=my-link&x=1&token=s%20t&short=mine")
        let form = try #require(LinkForm.decode(body, 0..<body.count))
        #expect(form.long == bytes("https://x.example/a?q=1&r=2"))
        #expect(form.short == bytes("mine") && form.token == bytes("s t"))
        #expect(LinkForm.decode(bytes("long=%ZZ"), 0..<8) == nil, "a malformed escape is refused")
        #expect(LinkForm.decode(bytes(""), 0..<0) == LinkForm())
    }

    @Test("POST / with a valid form asks for a create; an empty name for a generated one")
    func formRoutes() {
        #expect(formPost("long=https%3A%2F%2Fx.example%2F&short=abc")
                == .create(CreateRequest(short: bytes("abc"), long: bytes("https://x.example/"),
                                         form: LinkForm(long: bytes("https://x.example/"), short: bytes("abc")))))
        guard case .create(let generated) = formPost("long=https%3A%2F%2Fx.example%2F&short=") else {
            Issue.record("a form without a name is a create"); return
        }
        #expect(generated.short == nil)
    }

    @Test("a wrong form comes back refilled with the reason and the offending value")
    func formRejections() throws {
        guard case .formRejected(let form, let failure) = formPost("long=javascript%3Aalert(1)&short=ok") else {
            Issue.record("javascript: must be refused"); return
        }
        #expect(form.short == bytes("ok") && failure.status == .badRequest && failure.offending == bytes("javascript:alert(1)"))
        guard case .formRejected(_, let badName) = formPost("long=http%3A%2F%2Fx%2F&short=a%2Fb") else {
            Issue.record("a / in the name must be refused"); return
        }
        #expect(badName.offending == bytes("a/b"))
        guard case .formRejected(_, let empty) = formPost("short=x") else { Issue.record("no long URL"); return }
        #expect(empty.status == .badRequest)
        guard case .formRejected(_, let json) = formPost("{}", contentType: "application/json") else {
            Issue.record("only urlencoded forms"); return
        }
        #expect(json.status == .badRequest)
    }

    @Test("a form body of formBodyBytesMax is read; one byte more is 413")
    func formLimit() {
        let filler = "&pad=" + String(repeating: "x", count: Limits.formBodyBytesMax - 5 - 22)
        let atLimit = "long=http%3A%2F%2Fx%2F" + filler
        #expect(atLimit.utf8.count == Limits.formBodyBytesMax)
        guard case .create = formPost(atLimit) else { Issue.record("a body at the limit is read"); return }
        guard case .formRejected(_, let failure) = formPost(atLimit + "x") else { Issue.record("past the limit is refused"); return }
        #expect(failure.status == .payloadTooLarge)
    }

    @Test("generated names: 7 base62 characters, every character reachable, no modulo bias, no clash with a taken name")
    func generatedNames() {
        var system = SystemRandomNumberGenerator()
        var seen = Set<[UInt8]>()
        var characters = Set<UInt8>()
        for _ in 0..<2000 {
            let name = ShortNames.generate(using: &system)
            #expect(name.count == Limits.generatedNameCharacters)
            #expect(name.allSatisfy { ShortNames.alphabet.contains($0) })
            #expect(KeyValidation.problem(short: name) == nil)
            seen.insert(name)
            characters.formUnion(name)
        }
        #expect(seen.count == 2000, "no repeats among 2000 draws")
        #expect(characters.count == 62, "every character of the alphabet appears")
        // Bytes 248…255 would bias the low characters: they are drawn again.
        var scripted = ScriptedGenerator(words: [0xFFFF_FFFF_FFFF_FFFF, 0x0006_0504_0302_01FF])
        #expect(ShortNames.generate(using: &scripted) == bytes("1234560"), "0xFF bytes skipped; zero words give '0'")
        // The first draw is taken: the next one is used.
        var twice = ScriptedGenerator(words: [0, 0x0101_0101_0101_0101])
        let taken = bytes("0000000")
        #expect(ShortNames.firstUnused(using: &twice, isTaken: { $0 == taken }) == bytes("1111111"))
        var never = ScriptedGenerator(words: [])
        #expect(ShortNames.firstUnused(using: &never, isTaken: { _ in true }) == nil, "gives up after the attempt limit")
    }

    @Test("If-None-Match: * makes a PUT create-only; PUT /?long=L without short asks for a generated name")
    func createOnlyPuts() {
        let put = "PUT /?short=a&long=http://b HTTP/1.1\r\nHost: x\r\n"
        #expect(interpretWithBody(put + "If-None-Match: *\r\n\r\n") == .create(CreateRequest(short: bytes("a"), long: bytes("http://b"))))
        #expect(interpretWithBody(put + "If-None-Match: \"abc\"\r\n\r\n") == .put(ShortLong(short: bytes("a"), long: bytes("http://b"))),
                "an entity tag is not *: the ordinary PUT")
        #expect(interpretWithBody(put + "\r\n") == .put(ShortLong(short: bytes("a"), long: bytes("http://b"))))
        #expect(interpretWithBody("PUT /?long=http://b/?x=1&y=2 HTTP/1.1\r\nHost: x\r\n\r\n")
                == .create(CreateRequest(short: nil, long: bytes("http://b/?x=1&y=2"))))
        #expect(interpretWithBody("PUT /?long=http://b&short=c HTTP/1.1\r\nHost: x\r\n\r\n")
                == .put(ShortLong(short: bytes("c"), long: bytes("http://b"))), "long first with short is the old PUT")
        guard case .reject(let failure) = interpretWithBody("PUT /?long=javascript:x HTTP/1.1\r\nHost: x\r\n\r\n") else {
            Issue.record("a bad generated-name PUT is 400"); return
        }
        #expect(failure.status == .badRequest && failure.offending == bytes("javascript:x"))
    }

    @Test("GET / is the home page; favicon.ico and robots.txt are fixed and reserved; POST elsewhere stays 405")
    func pagesAndReservedNames() {
        #expect(interpretWithBody("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n") == .home(isHead: true))
        #expect(interpretWithBody("GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n") == .fixed(.favicon, isHead: false))
        #expect(interpretWithBody("GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n") == .fixed(.robots, isHead: false))
        #expect(KeyValidation.problem(short: bytes("robots.txt")) != nil && KeyValidation.problem(short: bytes("robots.txt2")) == nil)
        guard case .reject(let failure) = interpretWithBody("POST /abc HTTP/1.1\r\nHost: x\r\n\r\n") else {
            Issue.record("POST /abc is 405"); return
        }
        #expect(failure.allow == "GET, HEAD, PUT, DELETE")
        guard case .reject(let home) = interpretWithBody("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n"), home.status == .badRequest else {
            Issue.record("DELETE / stays 400"); return
        }
    }

    @Test("the write token: Bearer (any case, extra spaces), constant-time compare, the form field")
    func writeToken() {
        let gate = WriteTokenGate(token: bytes("s3cret"))
        func admits(_ header: String) -> Bool {
            let buffer = bytes("PUT /?short=a&long=http://b HTTP/1.1\r\nHost: x\r\n\(header)\r\n")
            var parser = HTTPRequestParser()
            guard case .head(let head) = parser.parse(buffer, from: 0, to: buffer.count) else { return false }
            return gate.admits(head, buffer)
        }
        #expect(admits("Authorization: Bearer s3cret\r\n"))
        #expect(admits("authorization: bearer   s3cret\r\n"))
        #expect(!admits("Authorization: Bearer s3cre\r\n") && !admits("Authorization: Bearer s3cretx\r\n"))
        #expect(!admits("Authorization: Basic s3cret\r\n") && !admits("") && !admits("Authorization: Bearer\r\n"))
        #expect(gate.admits(formToken: bytes("s3cret")) && !gate.admits(formToken: []) && !gate.admits(formToken: bytes("S3cret")))
    }

    @Test("--write-token and --public-url are parsed and checked; a token past writeTokenBytesMax is refused")
    func proxyOptions() throws {
        let hosts = "127.0.0.1:9001\n127.0.0.1:9002\n"
        func parse(_ extra: [String], files: [String: String] = [:]) throws -> ProxyOptions? {
            try ProxyOptions.parse(["--listen", "127.0.0.1:0", "--hosts", "h"] + extra) { path in
                if path == "h" { return hosts }
                guard let text = files[path] else { throw CommandLineError("no file \(path)") }
                return text
            }
        }
        #expect(try parse(["--write-token", "abc"])?.writeToken == bytes("abc"))
        #expect(try parse(["--write-token-file", "t"], files: ["t": " abc\n"])?.writeToken == bytes("abc"))
        #expect(try parse(["--write-token", String(repeating: "t", count: Limits.writeTokenBytesMax)])?.writeToken?.count
                == Limits.writeTokenBytesMax)
        #expect(throws: CommandLineError.self) { try parse(["--write-token", String(repeating: "t", count: Limits.writeTokenBytesMax + 1)]) }
        #expect(throws: CommandLineError.self) { try parse(["--write-token", "a", "--write-token-file", "t"], files: ["t": "b"]) }
        #expect(try parse(["--public-url", "https://s.example/"])?.publicURL == bytes("https://s.example"))
        for bad in ["ftp://s.example", "https://", "https://s.example/?x", "s.example",
                    "https://s.example/" + String(repeating: "p", count: Limits.publicURLBytesMax)] {
            #expect(throws: CommandLineError.self, "\(bad)") { try parse(["--public-url", bad]) }
        }
    }

    @Test("short URLs: --public-url, else http:// and a plausible Host, else the listen address")
    func shortURLs() {
        func base(_ host: String?, configured: String? = nil) -> String {
            let buffer = bytes("GET / HTTP/1.1\r\n" + (host.map { "Host: \($0)\r\n" } ?? "") + "\r\n")
            var parser = HTTPRequestParser()
            var head = HTTPRequestHead()
            if case .head(let parsed) = parser.parse(buffer, from: 0, to: buffer.count) { head = parsed }
            return String(decoding: ShortURL.base(configured: configured.map(bytes), head, buffer, listenAddress: "127.0.0.1:8080"),
                          as: UTF8.self)
        }
        #expect(base("s.example:8080") == "http://s.example:8080")
        #expect(base("[::1]:80") == "http://[::1]:80")
        #expect(base("evil\"<x>") == "http://127.0.0.1:8080", "a Host with other bytes is not used")
        #expect(base(String(repeating: "h", count: Limits.hostHeaderBytesMax + 1)) == "http://127.0.0.1:8080")
        #expect(base("s.example", configured: "https://go.example") == "https://go.example")
        #expect(ShortURL.make(base: bytes("https://go.example"), name: bytes("abc")) == bytes("https://go.example/abc"))
    }

    @Test("the create-only internal write: encoded, parsed by the node, its 412 read back with the value held")
    func createRoundTrip() throws {
        let encoder = InternalRequestEncoder(host: InternalRequestEncoder.clusterHost, clusterToken: nil)
        let record = LogRecord(version: 42, op: .put, key: bytes("abc"), value: bytes("http://x/?a=1&b=2"))
        let request = encoder.makeCreate(record)
        #expect(request.starts(with: bytes("PUT /_/kv?v=42&if=absent&short=abc HTTP/1.1\r\nHost: linkring\r\nContent-Length: 17\r\n\r\n")))
        var parser = HTTPRequestParser()
        guard case .head(let head) = parser.parse(request, from: 0, to: request.count) else { Issue.record("unparsed"); return }
        #expect(String(decoding: request[head.target], as: UTF8.self) == "/_/kv?v=42&if=absent&short=abc")
        let parsed = InternalRequest.parse(.put, request, query: head.target.lowerBound + 6..<head.target.upperBound,
                                           body: head.bodyStart..<request.count, rules: .standard)
        #expect(try parsed.get() == .createIfAbsent(record))
        let taken = WriteAnswer.taken(version: 7, value: bytes("http://held/"))
        #expect(taken.status == .preconditionFailed && taken.extraHeaders == [bytes("X-Version: 7")])
        #expect(WriteReply(status: 412, version: 7, body: bytes("http://held/")) == .taken(version: 7, value: bytes("http://held/")))
        #expect(WriteReply(status: 412, version: nil, body: []) == .failed, "a 412 without X-Version means nothing")
    }

    @Test("pages: the 400 page repeats the offending value escaped; every page has the stylesheet (inline on the browser's pages, linked on the API's answers) and a next step")
    func pages() {
        let failure = String(decoding: Pages.failure(HTTPParseFailure(.badRequest, "Bad name.", offending: bytes("<script>"))),
                             as: UTF8.self)
        #expect(failure.contains("You sent: <code>&lt;script&gt;</code>") && !failure.contains("<script>"))
        let linked = "<link rel=\"stylesheet\" href=\"/_/style.css\">"
        for page in [FormPages.home(asksForToken: false), DashboardPage.make(),
                     FormPages.created(shortURL: bytes("http://s/a"), long: bytes("http://b"))] {
            let text = String(decoding: page, as: UTF8.self)
            #expect(text.contains("<style>:root{") && text.contains("name=\"viewport\"") && !text.contains(linked))
        }
        let recorded = Pages.recorded(ShortLong(short: bytes("a"), long: bytes("http://b")))
        for page in [Pages.notFound(short: bytes("a")), recorded, Pages.deleted(short: bytes("a")),
                     Pages.unavailable(operation: "GET", detail: "x"), Pages.failure(WriteTokenGate.refusal)] {
            let text = String(decoding: page, as: UTF8.self)
            #expect(text.contains(linked) && !text.contains("<style>") && text.contains("name=\"viewport\"")
                    && text.contains("<p class=\"next\">"))
        }
        #expect(recorded.count < 640, "a PUT's answer (issue 16's hot path) stays small: \(recorded.count) bytes")
        let refilled = String(decoding: FormPages.form(LinkForm(long: bytes("http://x/\"><b>"), short: bytes("a")),
                                                       error: CreateFailuresProbe.taken, asksForToken: true), as: UTF8.self)
        #expect(refilled.contains("value=\"http://x/&quot;&gt;&lt;b&gt;\"") && refilled.contains("id=\"token\""))
        #expect(!String(decoding: FormPages.home(asksForToken: false), as: UTF8.self).contains("id=\"token\""))
        let created = String(decoding: FormPages.createdJSON(short: bytes("a"), shortURL: bytes("http://s/a"), long: bytes("http://x/\"")),
                             as: UTF8.self)
        #expect(created == "{\"short\":\"a\",\"url\":\"http://s/a\",\"long\":\"http://x/\\\"\"}\n")
    }
}

enum CreateFailuresProbe {
    static let taken = HTTPParseFailure(.preconditionFailed, "taken", offending: bytes("a"))
}
