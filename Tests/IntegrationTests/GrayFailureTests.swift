// A frozen node (SIGSTOP) against real processes (issue 12, point 4): clients keep their
// answers, each within a fraction of the old 2 s node time-out — reads are hedged to the next
// replica, writes stop waiting for the frozen one once the other acknowledged — and the proxy
// marks the node down after --silence-to-down-ms, not after several missed pings. After
// SIGCONT the node comes back and repair gives it the writes it missed.

import Foundation
import Glibc
import Testing

@Suite("Gray failures (real cluster)", .serialized)
struct GrayFailureTests {
    /// The slowest a request may be while a node is frozen; the old proxy waited the node
    /// time-out (2 s). The 250 ms bound of the issue is held by loadtest/pause.bash, not here:
    /// test machines are noisy.
    static let slowestMs = 1_000.0

    @Test("one node of four frozen: concurrent reads and writes all answer right and fast; it is down within 2 s; back after SIGCONT")
    func frozenNodeCostsNothing() throws {
        let cluster = try TestCluster(nodeCount: 4, nodeArguments: ["--sync-interval-ms", "200"],
                                      proxyArguments: ["--silence-to-down-ms", "1000"])
        let port = cluster.proxy.port
        for key in 0..<200 { #expect(try put(port, "/?short=g\(key)&long=https://g.example/\(key)", body: "").status == 200) }
        let frozen = cluster.nodes[0]!
        kill(frozen.pid, SIGSTOP)
        defer { kill(frozen.pid, SIGCONT) }
        let frozenAt = Date()

        let outcomes = runClients(count: 4, seconds: 2.0, port: port)
        let wrong = outcomes.filter { !$0.isRight }
        #expect(wrong.isEmpty, "\(wrong.count) wrong answers, e.g. \(wrong.first.map { "\($0.what): \($0.status)" } ?? "")")
        let slowest = outcomes.map(\.ms).max() ?? 0
        let counters = (try? request(port, "GET", "/_/metrics").body)?.split(separator: "\n")
            .filter { !$0.hasPrefix("#") && ($0.contains("hedge") || $0.contains("late_requests") || $0.contains("silent")) } ?? []
        #expect(slowest < Self.slowestMs, "slowest request \(slowest) ms: \(outcomes.filter { $0.ms > 200 }.map { "\($0.what) \(Int($0.ms)) ms from +\(Int($0.startedAt.timeIntervalSince(frozenAt) * 1000)) ms" }) \(counters)")
        #expect(outcomes.count > 100, "only \(outcomes.count) requests in 2 s")
        let address = "127.0.0.1:\(cluster.ports[0])"
        #expect(cluster.waitFor(timeoutMs: 100) { (try? cluster.proxyState(of: 0)) == "down" },
                "not down \(Date().timeIntervalSince(frozenAt)) s after SIGSTOP")
        let metrics = try request(port, "GET", "/_/metrics").body
        #expect(metrics.contains("linkring_node_silent_downs_total{node=\"\(address)\"} 1"))

        kill(frozen.pid, SIGCONT)
        #expect(cluster.waitFor(timeoutMs: 10_000) { (try? cluster.proxyState(of: 0)) == "up" })
        // The writes node 0 missed reach it by repair.
        let missed = outcomes.filter { $0.what.hasPrefix("PUT") }.map { $0.key }
        let onNode0 = try missed.filter { try cluster.replicas(of: $0).contains(0) }
        #expect(cluster.waitFor(timeoutMs: 10_000) {
            onNode0.allSatisfy { (try? cluster.stored($0, on: 0).value) == "https://w.example/\($0)" }
        }, "node 0 did not get the \(onNode0.count) writes it missed")
    }

    @Test("a DELETE that meets a newer version on the live replica while the other is frozen goes again at once, not once the frozen node is found down")
    func conflictBesideAFrozenReplica() throws {
        let cluster = try TestCluster(nodeCount: 4, proxyArguments: ["--silence-to-down-ms", "3000"])
        let port = cluster.proxy.port
        for key in 0..<100 { #expect(try put(port, "/?short=w\(key)&long=https://w.example/\(key)", body: "").status == 200) }
        #expect(try put(port, "/?short=race&long=https://old.example/", body: "").status == 200)
        let replicas = try cluster.replicas(of: "race")
        let frozen = cluster.nodes[replicas[0]]!
        // The live replica holds a version 400 ms ahead of the proxy's (a PUT minted a moment
        // later elsewhere): the DELETE's version is older there, 409, and must go again.
        let aheadMs = UInt64(Date().timeIntervalSince1970 * 1000) - 1_577_836_800_000 + 400
        let newer = aheadMs << 22 | 1023
        #expect(try request(cluster.ports[replicas[1]], "PUT", "/_/kv?v=\(newer)&short=race", body: Array("https://newer.example/".utf8)).status == 200)
        kill(frozen.pid, SIGSTOP)
        defer { kill(frozen.pid, SIGCONT) }
        let started = Date()
        let answer = try request(port, "DELETE", "/race")
        let ms = Date().timeIntervalSince(started) * 1000
        #expect(answer.status == 200)
        #expect(ms < 1_500, "the DELETE took \(Int(ms)) ms: it waited for the frozen replica (--silence-to-down-ms 3000)")
        #expect(try request(port, "GET", "/race").status == 404)
    }

    struct Outcome: Sendable {
        var what: String
        var key: String
        var status: Int
        var isRight: Bool
        var ms: Double
        var startedAt = Date()
    }

    /// `count` clients, each alternating a read of a preloaded key and a write of a new one,
    /// with every fifth request a DELETE of a key nobody holds.
    func runClients(count: Int, seconds: Double, port: Int) -> [Outcome] {
        let all = Collected()
        DispatchQueue.concurrentPerform(iterations: count) { client in
            var mine: [Outcome] = []
            let deadline = Date().addingTimeInterval(seconds)
            var step = 0
            while Date() < deadline {
                step += 1
                let started = Date()
                if step.isMultiple(of: 5) {
                    // A DELETE of a key nobody holds first asks every replica (DeleteProbe).
                    let key = "d\(client)x\(step)"
                    let answer = try? request(port, "DELETE", "/\(key)")
                    mine.append(Outcome(what: "DELETE \(key)", key: key, status: answer?.status ?? -1, isRight: answer?.status == 404,
                                        ms: Date().timeIntervalSince(started) * 1000, startedAt: started))
                } else if step.isMultiple(of: 2) {
                    let key = "g\((client * 37 + step) % 200)"
                    let answer = try? request(port, "GET", "/\(key)")
                    let right = answer?.status == 307 && answer?.headers["location"] == "https://g.example/\(key.dropFirst())"
                    mine.append(Outcome(what: "GET /\(key)", key: key, status: answer?.status ?? -1, isRight: right,
                                        ms: Date().timeIntervalSince(started) * 1000, startedAt: started))
                } else {
                    let key = "w\(client)x\(step)"
                    let answer = try? put(port, "/?short=\(key)&long=https://w.example/\(key)", body: "")
                    mine.append(Outcome(what: "PUT \(key)", key: key, status: answer?.status ?? -1, isRight: answer?.status == 200,
                                        ms: Date().timeIntervalSince(started) * 1000))
                }
            }
            all.add(mine)
        }
        return all.items
    }

    /// The clients' outcomes, gathered under a lock.
    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var items: [Outcome] = []

        func add(_ more: [Outcome]) {
            lock.lock()
            items += more
            lock.unlock()
        }
    }
}
