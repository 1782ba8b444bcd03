// The public input rules for what gets stored and what goes back out: a long URL needs an
// allowed scheme and a host; it is kept exactly as sent unless it arrived wholly
// percent-encoded; `.` and `..` are no short names; a Location header never carries a byte a
// URI may not hold raw.

import Testing
@testable import LinkRingCore

func rejection(_ query: String) -> HTTPParseFailure? {
    if case .failure(let failure) = parseQuery(query) { return failure }
    return nil
}

let standardSchemeRule = "The long URL must start with http:// or https:// and name a host."

@Suite("Long URL rules")
struct LongURLRulesTests {
    @Test("dangerous links are refused with the scheme rule", arguments: [
        "javascript:alert(1)", "JaVaScRiPt:alert(1)", "javascript://x.example/%0Aalert(1)",
        "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
        "//evil.example", "/\\evil.example", "\\\\evil.example", "evil.example", "ftp://x.example/",
    ])
    func dangerous(long: String) {
        #expect(LongURLRules.standard.problem(bytes(long)) == standardSchemeRule, "\(long)")
        #expect(rejection("short=a&long=" + long)?.reason == standardSchemeRule, "\(long) through the query")
    }

    @Test("a host is required after scheme://", arguments: [
        "http:/x", "http:///x", "https://", "http:x.example", "http://\\evil.example", "http://evil.example\\@good.example",
        "http://user@/x", "http://:80/", "http://[]/", "http://[::1/", "https://?q", "https://#f",
    ])
    func hostRequired(long: String) {
        #expect(LongURLRules.standard.problem(bytes(long)) == standardSchemeRule, "\(long)")
    }

    @Test("absolute URLs with an allowed scheme and a host are accepted, the scheme in any case", arguments: [
        "http://x", "https://x.example/a?b=1&c=2#f", "HTTPS://X.EXAMPLE/", "HtTp://x.example", "http://user:pw@x.example:8080/",
        "http://[::1]:8080/a", "http://x.example?q", "http://x.example#f", "https://x.example/a\\b", "https://x.example/%zz",
    ])
    func accepted(long: String) {
        #expect(LongURLRules.standard.problem(bytes(long)) == nil, "\(long)")
    }

    @Test("the allowed schemes are a list from the command line; script schemes are never allowed")
    func configurable() throws {
        let rules = try LongURLRules(parsingSchemeList: " HTTPS , ftp,https")
        #expect(rules.allowedSchemes == [bytes("https"), bytes("ftp")])
        #expect(rules.problem(bytes("ftp://files.example/a")) == nil)
        #expect(rules.problem(bytes("http://x.example/")) == "The long URL must start with https:// or ftp:// and name a host.")
        #expect(try LongURLRules(parsingSchemeList: "https").schemeRule == "The long URL must start with https:// and name a host.")
        for bad in ["", "http,", "1http", "ht tp", "javascript", "https,Data", "vbscript"] {
            #expect(throws: CommandLineError.self, "\(bad)") { try LongURLRules(parsingSchemeList: bad) }
        }
        #expect(LongURLRules.standard == (try LongURLRules(parsingSchemeList: "http,https")))
    }

    @Test("both executables take --allowed-schemes")
    func options() throws {
        let node = try #require(try NodeOptions.parse(["--listen", "127.0.0.1:0", "--data", "/tmp/d", "--allowed-schemes", "https"]))
        #expect(node.urlRules.allowedSchemes == [bytes("https")])
        #expect(try #require(try NodeOptions.parse(["--listen", "127.0.0.1:0", "--data", "/tmp/d"])).urlRules == .standard)
        let proxy = try #require(try ProxyOptions.parse(["--listen", "127.0.0.1:0", "--hosts", "h", "--replicas", "1",
                                                         "--allowed-schemes", "http,https,ftp"],
                                                        readFile: { _ in "127.0.0.1:1\n" }))
        #expect(proxy.urlRules.allowedSchemes.count == 3)
        #expect(throws: CommandLineError.self) {
            try NodeOptions.parse(["--listen", "127.0.0.1:0", "--data", "/tmp/d", "--allowed-schemes", "javascript"])
        }
    }

    @Test("the node's internal write checks the value with its own rules")
    func internalWrite() throws {
        func parse(_ body: String, _ rules: LongURLRules) -> Result<InternalRequest, HTTPParseFailure> {
            let query = "v=5&short=a"
            let buffer = bytes(query + body)
            return InternalRequest.parse(.put, buffer, query: 0..<query.utf8.count, body: query.utf8.count..<buffer.count, rules: rules)
        }
        for dangerous in ["javascript:alert(1)", "//evil.example", "http:///x", "data:text/html,x"] {
            guard case .failure(let failure) = parse(dangerous, .standard) else {
                Issue.record("\(dangerous) should be refused")
                continue
            }
            #expect(failure.status == .badRequest && failure.reason == standardSchemeRule)
        }
        #expect((try? parse("http://x.example/", try LongURLRules(parsingSchemeList: "https")).get()) == nil)
        let kept = try parse("https://x.example/q?a%26b=%20", .standard).get()
        #expect(kept == .write(LogRecord(version: 5, op: .put, key: bytes("a"), value: bytes("https://x.example/q?a%26b=%20"))),
                "the body is stored as sent, never decoded")
    }
}

@Suite("The long URL's percent rule")
struct LongURLPercentTests {
    @Test("a long URL is kept exactly as sent", arguments: [
        "https://x.example/search?q=a%26b%3Dc", "https://x.example/my%20file.pdf", "https://x.example/a+b",
        "http://x/?a%3Ab", "https://x.example/%41%zz", "http://x/?next=https%3A%2F%2Fy",
    ])
    func keptAsSent(long: String) throws {
        #expect(try parseQuery("short=a&long=" + long).get().long == bytes(long))
        #expect(try parseQuery("long=" + long + "&short=a").get().long == bytes(long), "the other order")
    }

    @Test("a wholly percent-encoded long URL (scheme%3A…) is decoded once, + as a space", arguments: [
        ("https%3A%2F%2Fx.example%2Fsearch%3Fq%3Da%2526b%253Dc", "https://x.example/search?q=a%26b%3Dc"),
        ("https%3a%2f%2fx.example%2Fmy%2520file.pdf", "https://x.example/my%20file.pdf"),
        ("HTTP%3A%2F%2Fx%2Fa%2Bb", "HTTP://x/a+b"),
        ("http%3A//x/", "http://x/"),
    ])
    func decodedOnce(sent: String, stored: String) throws {
        #expect(try parseQuery("short=a&long=" + sent).get().long == bytes(stored))
        #expect(try parseQuery("long=" + sent + "&short=a").get().long == bytes(stored), "the other order")
    }

    @Test("a space from form decoding is refused with a message that says where it came from")
    func formSpace() throws {
        let plus = try #require(rejection("short=a&long=https%3A%2F%2Fx.example%2Fmy+file.pdf"))
        #expect(plus.status == .badRequest && plus.reason.contains("percent-encoded") && plus.reason.contains("+"))
        let encodedSpace = try #require(rejection("short=a&long=https%3A%2F%2Fx.example%2Fmy%20file.pdf"))
        #expect(encodedSpace.reason == plus.reason)
        let raw = try #require(rejection("short=a&long=https://x.example/my file.pdf"))
        #expect(raw.reason == "The long URL may not contain spaces or control characters.")
        let badEscape = try #require(rejection("short=a&long=https%3A%2F%2Fx%2F%zz"))
        #expect(badEscape.reason.contains("invalid percent-escape"))
        let injected = try #require(rejection("short=a&long=http%3A%2F%2Fx%2F%0D%0ASet-Cookie:1"))
        #expect(injected.reason.contains("control characters"))
    }

    @Test("only an encoded colon right after a valid scheme name counts as wholly encoded")
    func detection() {
        func isEncoded(_ text: String) -> Bool { PercentDecoding.isWhollyEncodedURL(bytes(text), 0..<text.utf8.count) }
        #expect(isEncoded("https%3A%2F%2Fx") && isEncoded("https%3a%2F%2Fx") && isEncoded("svn+ssh%3A"))
        for plain in ["https://x", "%3A", "1http%3A", "ht%74p%3A//x", "https%3", "https%3B", "https%2A", ""] {
            #expect(!isEncoded(plain), "\(plain)")
        }
    }

    @Test("short stays percent-decoded")
    func shortDecoded() throws {
        #expect(try parseQuery("short=a%2Db&long=http://x").get().short == bytes("a-b"))
    }
}

@Suite("Short names . and ..")
struct DotShortNameTests {
    @Test("a second or repeated parameter after a name is called that, not bad characters")
    func repeatedParameter() {
        for query in ["key=a&key=b", "key=a&x=1"] {
            let buffer = bytes(query)
            guard case .failure(let failure) = ShortLongQuery.parseName(buffer, 0..<buffer.count, parameter: "key") else {
                Issue.record("\(query) accepted"); continue
            }
            #expect(failure.reason.contains("second or repeated parameter"), "\(failure.reason)")
        }
        let single = bytes("key=a")
        #expect((try? ShortLongQuery.parseName(single, 0..<single.count, parameter: "key").get()) == bytes("a"))
    }

    @Test(". and .. are refused everywhere a short name is read", arguments: [".", "..", "%2E", "%2e%2E"])
    func refused(name: String) {
        let reason = "The short name may not be . or .. (browsers and curl remove such path segments, so it could never be read)."
        #expect(rejection("short=\(name)&long=http://x")?.reason == reason)
        if case .reject(let failure) = interpret("GET /\(name) HTTP/1.1\r\nHost: x\r\n\r\n") {
            #expect(failure.status == .badRequest && failure.reason == reason)
        } else {
            Issue.record("GET /\(name) should be refused")
        }
    }

    @Test("names that merely contain dots are fine", arguments: ["...", ".a", "a.", "a..b", "~"])
    func accepted(name: String) {
        #expect(KeyValidation.problem(short: bytes(name)) == nil)
    }
}

@Suite("Location encoding")
struct LocationEncodingTests {
    @Test("bytes a URI may not hold raw are percent-encoded in Location", arguments: [
        ("https://x.example/<a>\"", "https://x.example/%3Ca%3E%22"),
        ("http://x/a b\t", "http://x/a%20b%09"),
        ("http://x/`{|}\\^", "http://x/%60%7B%7C%7D%5C%5E"),
        ("http://x/\u{7F}", "http://x/%7F"),
        ("http://x/é", "http://x/%C3%A9"),
    ])
    func encoded(url: String, location: String) {
        #expect(LocationBytes.encoded(bytes(url)) == bytes(location))
    }

    @Test("invalid UTF-8 goes out percent-encoded, and the body stays HTML-escaped")
    func invalidUTF8() throws {
        let url = bytes("http://x/") + [0xFF, 0xC3, 0x28] + bytes("<b>")
        #expect(LocationBytes.encoded(url) == bytes("http://x/%FF%C3(%3Cb%3E"))
        var output: [UInt8] = []
        Response.appendRedirect(to: &output, location: url, ResponseContext(date: date, isKeepAlive: true))
        let head = try #require(parseResponse(output))
        let locationField = try #require(head.fields.first { String(decoding: output[$0.name], as: UTF8.self) == "Location" })
        #expect(Array(output[locationField.value]) == bytes("http://x/%FF%C3(%3Cb%3E"))
        #expect(head.end == output.count, "Content-Length is exact")
        let body = String(decoding: output[head.body], as: UTF8.self)
        #expect(body.contains("&lt;b&gt;") && !body.contains("<b>"))
    }

    @Test("a URL with nothing to encode is copied whole; % and reserved bytes stay", arguments: [
        "https://x.example/search?q=a%26b%3Dc", "http://u:p@[::1]:80/a;b,c!$&'()*+=@#f", "http://x/~-._",
    ])
    func unchanged(url: String) {
        let scan = LocationBytes.scan(bytes(url))
        #expect(scan.uriUnsafeBytes == 0 && LocationBytes.encoded(bytes(url)) == bytes(url))
        #expect(scan.htmlEscapedLength == HTML.escapedLength(bytes(url)), "one scan gives the body's length too")
    }

    @Test("every byte: the encoded form holds only bytes a URI may hold raw, and decodes back")
    func everyByte() throws {
        let allowed = Set(bytes("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"))
        for value in 0...255 {
            let url = bytes("http://x/") + [UInt8(value)]
            let encoded = LocationBytes.encoded(url)
            #expect(encoded.allSatisfy { allowed.contains($0) }, "byte \(value)")
            #expect(allowed.contains(UInt8(value)) == (encoded == url), "byte \(value) is encoded only when it must be")
            #expect(LocationBytes.scan(url).htmlEscapedLength == HTML.escapedLength(url), "byte \(value): the body's length")
            if UInt8(value) != ASCII.percent {
                #expect(PercentDecoding.decode(encoded, 0..<encoded.count) == url, "byte \(value) round trip")
            }
        }
    }
}
