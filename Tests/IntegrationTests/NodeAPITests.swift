// The node's public API against the real binary: every route and status, pipelining,
// keep-alive and close semantics and the internal versioned routes (the cluster token:
// ClusterTokenTests.swift).

import Foundation
import Testing

@Suite("Node API (real binary)")
struct NodeAPITests {
    @Test("PUT, GET, HEAD, DELETE, 404, 400 and 405 answer as the design says")
    func publicAPI() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let client = try TestClient(port: node.port)
        let put = try client.request("PUT", "/?short=abc&long=http://example.com/?a=1&b=2")
        #expect(put.status == 200 && put.body.contains("Recorded") && put.headers["content-type"] == "text/html; charset=utf-8")
        #expect(put.headers["content-length"] == String(put.body.utf8.count) && put.headers["date"]?.hasSuffix("GMT") == true)
        let get = try client.request("GET", "/abc")
        #expect(get.status == 307 && get.headers["location"] == "http://example.com/?a=1&b=2")
        #expect(get.body.contains("http://example.com/?a=1&amp;b=2"))
        let head = try client.request("HEAD", "/abc")
        #expect(head.status == 307 && head.body.isEmpty && head.headers["content-length"] == get.headers["content-length"])
        #expect(try client.request("GET", "/missing").status == 404)
        #expect(try client.request("DELETE", "/abc").status == 200)
        #expect(try client.request("GET", "/abc").status == 404)
        #expect(try client.request("DELETE", "/abc").status == 404)
        let bad = try client.request("PUT", "/?short=a%20b&long=http://x")
        #expect(bad.status == 400 && bad.body.contains("short name"))
        let method = try client.request("POST", "/abc")
        #expect(method.status == 405 && method.headers["allow"] == "GET, HEAD, PUT, DELETE")
        #expect(try client.request("GET", "/abc").status == 404, "the connection is still served after 400 and 405")
    }

    @Test("the other query order and percent-encoded values are stored exactly")
    func queryForms() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        #expect(try request(node.port, "PUT", "/?long=http://x/?q=1&r=2&short=rev").status == 200)
        #expect(try request(node.port, "GET", "/rev").headers["location"] == "http://x/?q=1&r=2")
        #expect(try request(node.port, "PUT", "/?short=enc&long=http%3A%2F%2Fy%2F%3Fa%3D%26").status == 200)
        #expect(try request(node.port, "GET", "/enc").headers["location"] == "http://y/?a=&")
        // A long URL sent as it is stays as it is: its %0D%0A are three harmless bytes each.
        #expect(try request(node.port, "PUT", "/?short=kept&long=http://x/%0D%0ASet-Cookie:%20a=b").status == 200)
        let kept = try request(node.port, "GET", "/kept")
        #expect(kept.headers["location"] == "http://x/%0D%0ASet-Cookie:%20a=b" && kept.headers["set-cookie"] == nil)
        let injection = try request(node.port, "PUT", "/?short=inj&long=http%3A%2F%2Fx%2F%0D%0ASet-Cookie:%20a=b")
        #expect(injection.status == 400, "decoded once, the wholly encoded form has a CR LF")
        #expect(try request(node.port, "GET", "/inj").status == 404, "a refused PUT changes nothing")
    }

    @Test("three pipelined requests in one write are answered in order")
    func pipelining() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let client = try TestClient(port: node.port)
        try client.send("PUT /?short=p&long=http://pipe HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "GET /p HTTP/1.1\r\nHost: t\r\n\r\n"
                        + "DELETE /p HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let get = try client.readResponse()
        #expect(get.status == 307 && get.headers["location"] == "http://pipe")
        #expect(try client.readResponse().status == 200)
        #expect(try client.request("GET", "/p").status == 404)
    }

    @Test("pipelined internal writes are handled together and answered in request order")
    func pipelinedInternalWrites() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let client = try TestClient(port: node.port)
        var batch = ""
        for index in 0..<50 {
            let body = "http://p/\(index)"
            batch += "PUT /_/kv?v=\(1000 + index)&short=p\(index) HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            if index % 10 == 9 { batch += "GET /_/kv?short=p\(index - 9) HTTP/1.1\r\nHost: t\r\n\r\n" }
        }
        try client.send(batch)
        for index in 0..<50 {
            let answer = try client.readResponse()
            #expect(answer.status == 200 && answer.body == "absent\n", "write \(index)")
            if index % 10 == 9 {
                let read = try client.readResponse()
                #expect(read.status == 200 || read.status == 404, "the read between writes is answered in its place")
            }
        }
        for index in 0..<50 {
            let read = try client.request("GET", "/_/kv?short=p\(index)")
            #expect(read.body == "http://p/\(index)" && read.headers["x-version"] == "\(1000 + index)")
        }
    }

    @Test("Connection: close and HTTP/1.0 end the connection after the answer; HTTP/1.0 keep-alive does not")
    func connectionSemantics() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let closing = try TestClient(port: node.port)
        let answer = try closing.request("GET", "/x", headers: ["Connection: close"])
        #expect(answer.status == 404 && answer.headers["connection"] == "close" && closing.isClosedByServer())
        let old = try TestClient(port: node.port)
        try old.send("GET /x HTTP/1.0\r\n\r\n")
        #expect(try old.readResponse().status == 404 && old.isClosedByServer())
        let kept = try TestClient(port: node.port)
        try kept.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try kept.readResponse().headers["connection"] == "keep-alive")
        #expect(try kept.request("GET", "/x").status == 404)
    }

    @Test("health reports state, keys and log size")
    func health() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        _ = try request(node.port, "PUT", "/?short=h&long=http://h")
        let health = try request(node.port, "GET", "/_/health")
        #expect(health.status == 200 && health.headers["content-type"] == "application/json")
        #expect(health.body.contains("\"state\":\"ready\"") && health.body.contains("\"keys\":1") && health.body.contains("\"logBytes\":"))
    }

    @Test("versioned internal writes keep the highest version; a delete is a tombstone older writes cannot undo")
    func versionedWrites() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        #expect(try put(node.port, "/_/kv?v=2000&short=k", body: "http://new").status == 200)
        #expect(try put(node.port, "/_/kv?v=2000&short=k", body: "http://new").status == 200, "a retry of the same version is acknowledged")
        let older = try put(node.port, "/_/kv?v=1000&short=k", body: "http://old")
        #expect(older.status == 409 && older.headers["x-version"] == "2000", "an older version is refused, naming the newer one")
        let read = try request(node.port, "GET", "/_/kv?short=k")
        #expect(read.status == 200 && read.body == "http://new" && read.headers["x-version"] == "2000")
        let delete = try request(node.port, "DELETE", "/_/kv?v=3000&short=k")
        #expect(delete.status == 200 && delete.body == "existed\n")
        #expect(try put(node.port, "/_/kv?v=2500&short=k", body: "http://late").status == 409)
        let after = try request(node.port, "GET", "/_/kv?short=k")
        #expect(after.status == 404 && after.headers["x-version"] == "3000")
        #expect(try request(node.port, "GET", "/k").status == 404)
        #expect(try put(node.port, "/_/kv?short=k", body: "http://x").status == 400, "a versioned write needs v=")
    }

    @Test("the log dump prints one line per record")
    func dump() throws {
        let (node, data) = try startNode()
        _ = try request(node.port, "PUT", "/?short=d1&long=http://one")
        _ = try request(node.port, "DELETE", "/d1")
        #expect(node.stop() == 0)
        let (code, output) = try runToExit(Binaries.node, ["dump", data])
        #expect(code == 0 && output.contains(" put d1 http://one") && output.contains(" delete d1") && output.contains("# 2 records"))
    }
}
