// The public input rules against real processes: dangerous links are refused by a lone node
// (public and internal PUT) and through the proxy, with nothing stored anywhere; a long URL
// comes back byte-identical in Location; a stored URL with < > " goes out percent-encoded;
// nodes whose --allowed-schemes differ from the proxy's make it answer 400; and the HTTP rules
// on the wire (Host, Connection token lists, the HTTP/2 preface, leading-zero Content-Length).

import Foundation
import Testing

let dangerousLinks = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "file:///etc/passwd", "//evil.example", "/\\evil.example", "http:/x", "http:///x", "https://",
    "javascript%3Aalert(1)",  // wholly encoded: decoded once, then refused like the raw one
]

let schemeRule = "The long URL must start with http:// or https:// and name a host."

/// PUTs every dangerous link through `port`; each must get 400 with the scheme rule.
func expectDangerousLinksRefused(_ client: TestClient) throws {
    for (index, link) in dangerousLinks.enumerated() {
        let answer = try client.request("PUT", "/?short=d\(index)&long=\(link)")
        #expect(answer.status == 400 && answer.body.contains(schemeRule), "\(link): \(answer.status)")
        #expect(try client.request("GET", "/d\(index)").status == 404, "\(link) was not stored")
    }
}

/// The byte-identical and the encoded Location, read through `client`.
func expectLocationsExact(_ client: TestClient) throws {
    let kept = "https://x.example/search?q=a%26b%3Dc"
    #expect(try client.request("PUT", "/?short=kept&long=\(kept)").status == 200)
    #expect(try client.request("GET", "/kept").headers["location"] == kept, "byte-identical")
    #expect(try client.request("PUT", "/?short=angle&long=https://x.example/<a>\"").status == 200)
    let angle = try client.request("GET", "/angle")
    #expect(angle.headers["location"] == "https://x.example/%3Ca%3E%22")
    #expect(angle.body.contains("https://x.example/&lt;a&gt;&quot;") && !angle.body.contains("<a>"))
    #expect(try client.request("PUT", "/?short=form&long=https%3A%2F%2Fx.example%2Fmy%2520file.pdf").status == 200)
    #expect(try client.request("GET", "/form").headers["location"] == "https://x.example/my%20file.pdf")
    let dot = try client.request("PUT", "/?short=..&long=https://x.example/")
    #expect(dot.status == 400 && dot.body.contains("may not be . or .."))
}

@Suite("Input rules (real binaries)", .serialized)
struct InputRulesTests {
    @Test("a lone node refuses every dangerous link on its public and internal PUT and stores nothing")
    func loneNode() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let client = try TestClient(port: node.port)
        try expectDangerousLinksRefused(client)
        for (index, link) in dangerousLinks.enumerated() where !link.contains("%") {
            let answer = try put(node.port, "/_/kv?v=\(1000 + index)&short=i\(index)", body: link)
            #expect(answer.status == 400 && answer.body.contains(schemeRule), "internal \(link)")
            #expect(try request(node.port, "GET", "/_/kv?short=i\(index)").status == 404)
        }
        try expectLocationsExact(client)
    }

    @Test("through the proxy: dangerous links get 400 and reach no node; Locations are exact")
    func throughProxy() throws {
        let cluster = try TestCluster(nodeCount: 2, clusterToken: "input-rules-token")
        let client = try TestClient(port: cluster.proxy.port)
        try expectDangerousLinksRefused(client)
        for index in dangerousLinks.indices {
            for node in cluster.ports.indices {
                #expect(try cluster.nodeRequest(node, "GET", "/_/kv?short=d\(index)").status == 404, "node \(node) holds d\(index)")
            }
        }
        try expectLocationsExact(client)
    }

    @Test("nodes with a narrower --allowed-schemes than the proxy's refuse, and the proxy answers 400")
    func disagreeingSchemes() throws {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--allowed-schemes", "https"], clusterToken: "input-rules-token")
        let client = try TestClient(port: cluster.proxy.port)
        #expect(try client.request("PUT", "/?short=s&long=https://x.example/").status == 200)
        let refused = try client.request("PUT", "/?short=p&long=http://x.example/")
        #expect(refused.status == 400 && refused.body.contains("--allowed-schemes"), "\(refused.body)")
        #expect(try client.request("GET", "/p").status == 404)
        let direct = try cluster.nodeRequest(0, "PUT", "/?short=p&long=http://x.example/")
        #expect(direct.status == 400 && direct.body.contains("must start with https:// and name a host"))
    }

    @Test("on the wire (one node): no Host on HTTP/1.1 is 400, on HTTP/1.0 fine; close anywhere in Connection closes; the HTTP/2 preface gets 505 and is closed; Content-Length 0016 works")
    func wireRules() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        try expectHostRequired(node.port)
        for value in ["close, keep-alive", "keep-alive, close", "Keep-Alive, CLOSE"] {
            let client = try TestClient(port: node.port)
            let answer = try client.request("GET", "/a", headers: ["Connection: \(value)"])
            #expect(answer.status == 404 && answer.headers["connection"] == "close" && client.isClosedByServer(), "\(value)")
        }
        let preface = try TestClient(port: node.port)
        try preface.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        let refused = try preface.readResponse()
        #expect(refused.status == 505 && refused.body.contains("HTTP/1.1") && preface.isClosedByServer())
        let body = "http://z.example"
        let client = try TestClient(port: node.port)
        try client.send("PUT /_/kv?v=8&short=z HTTP/1.1\r\nHost: t\r\nContent-Length: 00\(body.utf8.count)\r\n\r\n\(body)")
        #expect(try client.readResponse().status == 200, "Content-Length: 0016")
        #expect(try client.request("GET", "/z").headers["location"] == body)
    }

    private func expectHostRequired(_ port: Int) throws {
        let missing = try TestClient(port: port)
        try missing.send("GET /a HTTP/1.1\r\nUser-Agent: t\r\n\r\n")
        let answer = try missing.readResponse()
        #expect(answer.status == 400 && answer.body.contains("Host") && missing.isClosedByServer())
        let old = try TestClient(port: port)
        try old.send("GET /a HTTP/1.0\r\n\r\n")
        #expect(try old.readResponse().status == 404)
    }
}
