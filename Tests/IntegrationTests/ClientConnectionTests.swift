// Client connections against the real node and proxy (issue 12, points 1–3):
//
//   - large pipelines: 30,000 GETs written whole before a byte is read, 3,000 PUTs of 4 KB values
//     (12 MB) written from a second thread while the answers are read, and GETs read only after
//     a pause: every request answered, in order (main stalled after 72 PUTs and 11,297 GETs
//     through the proxy);
//   - connections that pipeline and never read: the server's memory per connection is bounded
//     and given back when they close (figures printed; LINKRING_MEMORY_CONNECTIONS sets how
//     many, 100 by default; docs/RELIABILITY.md has the figures for 300);
//   - fairness: one address past --max-connections-per-address gets 503 while another address
//     (127.0.0.2) is served; at --max-connections an idle connection is closed to admit a new one.

import Foundation
import Glibc
import Testing

/// `count` pipelined requests built by `line(i)`, in one buffer.
private func pipeline(_ count: Int, _ line: (Int) -> String) -> [UInt8] {
    var bytes: [UInt8] = []
    for index in 0..<count { bytes += Array(line(index).utf8) }
    return bytes
}

/// The 4,000-character long URL of key `index` (its 307 answer is about 4 KB).
private func longURL(_ index: Int) -> String {
    "http://p/\(index)/" + String(repeating: "x", count: 4_000)
}

/// How a test client sends its pipeline.
private enum Writing {
    /// Every request before reading a byte: only what the loopback buffers hold (a few MB of
    /// requests) can be sent so, since a server with bounded memory stops reading once its
    /// unread answers fill them; 30,000 GETs (900 KB) fit.
    case wholeBeforeReading
    /// From another thread while the answers are read, never waiting for one: any length.
    case concurrently
}

/// Writes `requests`, waits `pauseMs`, then reads `count` answers and checks each with `check(i, answer)`.
private func expectPipeline(port: Int, _ requests: [UInt8], count: Int, writing: Writing = .wholeBeforeReading,
                            pauseMs: UInt32 = 0, _ check: (Int, TestResponse) -> Bool) throws {
    let client = try TestClient(port: port)
    let timeoutMs = 5_000 * Binaries.waitScale
    let sending = writing == .concurrently ? client.sendConcurrently(requests, timeoutMs: timeoutMs) : nil
    if sending == nil {
        let sent = client.send(requests, timeoutMs: timeoutMs)
        #expect(sent == requests.count, "the server stopped reading after \(sent) of \(requests.count) bytes")
    }
    usleep(pauseMs * 1_000)
    var answered = 0
    var wrong = 0
    do {
        while answered < count {
            let response = try client.readResponse(timeoutMs: timeoutMs)
            if !check(answered, response) {
                if wrong == 0 { Issue.record("answer \(answered) is wrong: \(response.status), location \(response.headers["location"]?.prefix(40) ?? "none"), body \(response.body.prefix(300))") }
                wrong += 1
            }
            answered += 1
        }
    } catch {
        Issue.record("after \(answered) of \(count) answers: \(error)")
    }
    #expect(answered == count && wrong == 0, "\(answered) of \(count) answered, \(wrong) wrong or out of order")
    if let sent = sending?.wait() { #expect(sent == requests.count, "the server stopped reading after \(sent) of \(requests.count) bytes") }
}

private func getPipeline(_ count: Int, keys: Int) -> [UInt8] {
    pipeline(count) { "GET /p\($0 % keys) HTTP/1.1\r\nHost: t\r\n\r\n" }
}

private func putPipeline(_ count: Int) -> [UInt8] {
    pipeline(count) { "PUT /?short=q\($0)&long=\(longURL($0)) HTTP/1.1\r\nHost: t\r\n\r\n" }
}

/// Stores p0…p(keys-1) through `port`.
private func storeKeys(_ port: Int, keys: Int) throws {
    let client = try TestClient(port: port)
    for index in 0..<keys { #expect(try client.request("PUT", "/?short=p\(index)&long=\(longURL(index))").status == 200) }
}

/// Waits until the proxy routes to its nodes.
private func waitUntilServing(_ cluster: TestCluster) throws {
    try #require(try cluster.waitFor { try request(cluster.proxy.port, "GET", "/_/health").status == 200 })
}

@Suite("Client connections: pipelines, memory, fairness (real binaries)", .serialized)
struct ClientConnectionTests {
    @Test("node: 30,000 pipelined GETs written whole before reading, 3,000 pipelined 4 KB PUTs: every answer, in order")
    func nodePipelines() throws {
        let (node, _) = try startNode(["--fsync", "never"])
        defer { node.stop() }
        try storeKeys(node.port, keys: 100)
        try expectPipeline(port: node.port, getPipeline(30_000, keys: 100), count: 30_000) { index, response in
            response.status == 307 && response.headers["location"] == longURL(index % 100)
        }
        try expectPipeline(port: node.port, putPipeline(3_000), count: 3_000, writing: .concurrently) { _, response in response.status == 200 }
        #expect(try request(node.port, "GET", "/q2999").headers["location"] == longURL(2999))
    }

    @Test("proxy: 30,000 pipelined GETs written whole before reading, 3,000 pipelined 4 KB PUTs: every answer, in order")
    func proxyPipelines() throws {
        let cluster = try TestCluster(nodeArguments: ["--fsync", "never"])
        try waitUntilServing(cluster)
        try storeKeys(cluster.proxy.port, keys: 100)
        try expectPipeline(port: cluster.proxy.port, getPipeline(30_000, keys: 100), count: 30_000) { index, response in
            response.status == 307 && response.headers["location"] == longURL(index % 100)
        }
        try expectPipeline(port: cluster.proxy.port, putPipeline(3_000), count: 3_000, writing: .concurrently) { _, response in response.status == 200 }
        #expect(try request(cluster.proxy.port, "GET", "/q2999").headers["location"] == longURL(2999))
    }

    @Test("node and proxy: a client that reads nothing for 2 s after its 20,000 pipelined GETs gets every answer, in order")
    func readsAfterAPause() throws {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--fsync", "never"])
        try waitUntilServing(cluster)
        try storeKeys(cluster.proxy.port, keys: 10)
        for port in [cluster.ports[0], cluster.proxy.port] {
            try expectPipeline(port: port, getPipeline(20_000, keys: 10), count: 20_000, pauseMs: 2_000) { index, response in
                response.status == 307 && response.headers["location"] == longURL(index % 10)
            }
        }
    }

    @Test("connections that pipeline and never read: memory per connection bounded on node and proxy, given back when they close",
          .disabled(if: Binaries.areSanitized, "AddressSanitizer's quarantine keeps freed memory: RSS says nothing here"))
    func memoryPerConnection() throws {
        let count = Int(ProcessInfo.processInfo.environment["LINKRING_MEMORY_CONNECTIONS"] ?? "") ?? 100
        raiseOpenFileLimit(to: count * 2 + 256)
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--fsync", "never"])
        try waitUntilServing(cluster)
        try storeKeys(cluster.proxy.port, keys: 10)
        for (name, server) in [("node", cluster.nodes[0]!), ("proxy", cluster.proxy!)] {
            let figures = try pipelineWithoutReading(server, connections: count)
            print("memory, \(count) connections that pipeline 1,000 GETs (4 KB answers) and never read, \(name): RSS \(figures.before / 1024) MiB "
                  + "before, \(figures.during / 1024) MiB with them (\(figures.perConnection) KiB each), \(figures.after / 1024) MiB after they closed")
            #expect(figures.perConnection < 400, "\(name): \(figures.perConnection) KiB per connection")
            #expect(figures.after - figures.before < 32 * 1024, "\(name): \(figures.after - figures.before) KiB kept after close")
        }
    }

    /// RSS (KiB) of `server` before, with `connections` clients that pipeline GETs of 4 KB
    /// answers and never read, and after they closed.
    private func pipelineWithoutReading(_ server: ServerProcess, connections: Int) throws -> (before: Int, during: Int, after: Int, perConnection: Int) {
        let before = residentKilobytes(server.pid)
        let requests = getPipeline(1_000, keys: 10)
        var clients: [TestClient] = []
        for _ in 0..<connections {
            let client = try TestClient(port: server.port)
            client.send(requests, timeoutMs: 100)
            clients.append(client)
        }
        let during = settledResidentKilobytes(server.pid)
        clients.removeAll()
        usleep(2_500_000)  // the connections close; the next cron ticks give the memory back
        let after = residentKilobytes(server.pid)
        return (before, during, after, (during - before) / connections)
    }

    /// RSS once it stopped growing (the server works through what the clients sent).
    private func settledResidentKilobytes(_ pid: Int32) -> Int {
        var last = residentKilobytes(pid)
        for _ in 0..<20 {
            usleep(250_000)
            let now = residentKilobytes(pid)
            if now == last { break }
            last = now
        }
        return last
    }

    @Test("one address past --max-connections-per-address gets a short 503 and is closed; another address is served")
    func perAddressLimit() throws {
        let (node, _) = try startNode(["--max-connections-per-address", "3"])
        defer { node.stop() }
        let first = try (0..<3).map { _ in try TestClient(port: node.port) }
        for client in first { #expect(try client.request("GET", "/a").status == 404) }
        let fourth = try TestClient(port: node.port)
        let refused = try fourth.readResponse(timeoutMs: 3_000)
        #expect(refused.status == 503 && refused.body.contains("Your address has too many connections") && fourth.isClosedByServer())
        let other = try TestClient(port: node.port, sourceAddress: "127.0.0.2")
        #expect(try other.request("GET", "/a").status == 404, "another address is served")
        #expect(try first[0].request("GET", "/a").status == 404, "the first three are still served")
        first[2].close()
        #expect(waitFor { (try? TestClient(port: node.port).request("GET", "/a").status) == 404 }, "a freed slot is given again")
    }

    @Test("at --max-connections the connection idle longest is closed to admit a new client; with none idle, 503")
    func idleClosedAtCap() throws {
        // Three addresses, so the per-address limit (by default the lower of 1000 and
        // --max-connections) is not what refuses.
        let (node, _) = try startNode(["--max-connections", "2"])
        defer { node.stop() }
        let older = try TestClient(port: node.port, sourceAddress: "127.0.0.2")
        #expect(try older.request("GET", "/a").status == 404)
        usleep(100_000)
        let newer = try TestClient(port: node.port, sourceAddress: "127.0.0.3")
        #expect(try newer.request("GET", "/a").status == 404)
        usleep(1_200_000)  // both idle past Limits.idleConnectionEvictionMsMin (1 s)
        let third = try TestClient(port: node.port)
        #expect(try third.request("GET", "/a").status == 404, "admitted")
        #expect(older.isClosedByServer(timeoutMs: 2_000), "the connection idle longest was closed")
        #expect(try newer.request("GET", "/a").status == 404, "the other one is still served")
        let fourth = try TestClient(port: node.port, sourceAddress: "127.0.0.4")
        #expect(try fourth.readResponse(timeoutMs: 3_000).status == 503, "none idle long enough: 503")
    }
}
