// Every limit of the node's HTTP server, past its edge: 414, 431, 413, the header time-out
// (slowloris), the idle time-out and the connection cap; a malformed request closes only its
// own connection.

import Foundation
import Testing

@Suite("Node limits (real binary)")
struct NodeLimitTests {
    @Test("an over-long request line gets 414, a huge header block 431, a big body 413, each then closed")
    func sizeLimits() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let longLine = try TestClient(port: node.port)
        try longLine.send("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n")
        #expect(try longLine.readResponse().status == 414 && longLine.isClosedByServer())
        let bigHeaders = try TestClient(port: node.port)
        try bigHeaders.send("GET /a HTTP/1.1\r\n" + String(repeating: "X-Fill: " + String(repeating: "b", count: 1000) + "\r\n", count: 40) + "\r\n")
        #expect(try bigHeaders.readResponse().status == 431 && bigHeaders.isClosedByServer())
        let manyFields = try TestClient(port: node.port)
        try manyFields.send("GET /a HTTP/1.1\r\n" + (0..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n")
        #expect(try manyFields.readResponse().status == 431)
        let bigBody = try TestClient(port: node.port)
        try bigBody.send("PUT /?short=a&long=b HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
        #expect(try bigBody.readResponse().status == 413 && bigBody.isClosedByServer())
        #expect(try request(node.port, "GET", "/a").status == 404, "the node keeps serving")
    }

    @Test("a malformed request gets 400 and its connection is closed; other connections keep being served")
    func malformedClosesOnlyItsConnection() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let good = try TestClient(port: node.port)
        #expect(try good.request("GET", "/a").status == 404)
        let bad = try TestClient(port: node.port)
        try bad.send("GARBAGE\r\n\r\n")
        let answer = try bad.readResponse()
        #expect(answer.status == 400 && answer.headers["connection"] == "close" && bad.isClosedByServer())
        #expect(try good.request("GET", "/a").status == 404)
    }

    @Test("a request that trickles in slower than the header time-out gets 408 and is closed")
    func headerTimeout() throws {
        let (node, _) = try startNode(["--header-timeout-ms", "300"])
        defer { node.stop() }
        let slow = try TestClient(port: node.port)
        try slow.send("GET /a HTTP/1.1\r\nHost: x\r\n")
        let started = Date()
        let answer = try slow.readResponse(timeoutMs: 3_000)
        #expect(answer.status == 408 && slow.isClosedByServer())
        #expect(Date().timeIntervalSince(started) < 2.0)
        #expect(try request(node.port, "GET", "/a").status == 404)
    }

    @Test("an idle keep-alive connection is closed after the idle time-out")
    func idleTimeout() throws {
        let (node, _) = try startNode(["--idle-timeout-ms", "300"])
        defer { node.stop() }
        let idle = try TestClient(port: node.port)
        #expect(try idle.request("GET", "/a").status == 404)
        #expect(idle.isClosedByServer(timeoutMs: 3_000))
    }

    @Test("past the connection cap a new connection gets 503 and is closed; the others keep being served")
    func connectionCap() throws {
        let (node, _) = try startNode(["--max-connections", "2"])
        defer { node.stop() }
        let first = try TestClient(port: node.port)
        let second = try TestClient(port: node.port)
        #expect(try first.request("GET", "/a").status == 404)
        #expect(try second.request("GET", "/a").status == 404)
        let third = try TestClient(port: node.port)
        #expect(try third.readResponse(timeoutMs: 3_000).status == 503 && third.isClosedByServer())
        #expect(try first.request("GET", "/a").status == 404)
        withExtendedLifetime(second) {}
    }
}
