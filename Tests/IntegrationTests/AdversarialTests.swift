// Hostile clients against the real node: a slowloris crowd of 1000 connections trickling
// bytes (as many as one address may hold by default) must not slow a normal client down or
// grow memory without bound, and every slow connection is cut by the header time-out.

import Foundation
import Glibc
import Testing

func residentKilobytes(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// Lets this process hold `count` more sockets.
func raiseOpenFileLimit(to count: Int) {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, rlim_t(count)))
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

@Suite("Adversarial clients (real binary)", .serialized)
struct AdversarialTests {
    @Test("slowloris: 1000 trickling connections; a normal client keeps p99 under 1 s, memory stays bounded, all are cut by the header time-out")
    func slowloris() throws {
        raiseOpenFileLimit(to: 4096)
        let (node, _) = try startNode(["--header-timeout-ms", "2000"])
        defer { node.stop() }
        _ = try request(node.port, "PUT", "/?short=a&long=http://a")
        let rssBefore = residentKilobytes(node.pid)
        var crowd: [TestClient] = []
        for _ in 0..<1000 {
            let client = try TestClient(port: node.port)
            try client.send("GET /a HTTP/1.1\r\nX-Slow: ")
            crowd.append(client)
        }
        // From another address: the crowd holds all 1000 connections 127.0.0.1 may have
        // (--max-connections-per-address), and a normal client elsewhere must not notice.
        let normal = try TestClient(port: node.port, sourceAddress: "127.0.0.2")
        var latencies: [Double] = []
        let started = Date()
        var round = 0
        while Date().timeIntervalSince(started) < 1.5 {
            for client in crowd { try? client.send("x") }  // one byte each, over and over
            for _ in 0..<20 {
                let before = Date()
                #expect(try normal.request("GET", "/a").status == 307)
                latencies.append(Date().timeIntervalSince(before))
            }
            round += 1
        }
        latencies.sort()
        let p99 = latencies[latencies.count * 99 / 100]
        let rssDuring = residentKilobytes(node.pid)
        print("slowloris: \(latencies.count) normal GETs, p99 \(String(format: "%.1f", p99 * 1000)) ms, "
              + "RSS \(rssBefore) KiB before, \(rssDuring) KiB with 1000 slow connections, \(round) trickle rounds")
        #expect(p99 < 1.0)
        #expect(rssDuring - rssBefore < 64 * 1024, "memory grew by \(rssDuring - rssBefore) KiB")
        var cut = 0
        for client in crowd where client.isClosedByServer(timeoutMs: 4_000) { cut += 1 }
        #expect(cut == 1000, "\(cut) of 1000 slow connections were closed by the header time-out")
        #expect(try normal.request("GET", "/a").status == 307)
    }
}
