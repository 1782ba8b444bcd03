// A replica that missed a write the proxy acknowledged never answers for that key alone
// (PartialWrites.swift, docs/DECISIONS.md "Read floors"). The CI fault suite's kill9 scenario
// once read a value 2 ms after a newer one was acknowledged: the write had settled without a
// replica, which answered the read before it caught up. Here the replica is made to miss the
// write for good (it restarts while its only peer is dead, so its recovery pull finds nobody,
// and periodic repair is too rare to run), and it is the first replica the proxy asks. The
// same holds when what it kept is a far-future entry (an older release's), whose version is
// above the floor but far ahead of cluster time (a CI run read one back right after the write).

import Foundation
import LinkRingCore
import Testing

@Suite("Read floors: a replica that missed an acknowledged write (real cluster)", .serialized)
struct ReadFloorTests {
    @Test("a write acknowledged without a replica is never answered older by it; with only that replica up, 503, never stale")
    func replicaThatMissedAWrite() throws {
        let (cluster, short) = try clusterWithKeyFirstOnNode1(prefix: "floor")
        let port = cluster.proxy.port
        #expect(try put(port, "/?short=\(short)&long=https://old.example/", body: "").status == 200)
        // A replica found late on a loaded machine (sanitized builds) gets the write moments after the 200.
        #expect(cluster.waitFor { (try? cluster.nodeRequest(1, "GET", "/\(short)").status) == 307 })
        try makeNode1Miss(cluster, short)
        #expect(try cluster.nodeRequest(1, "GET", "/\(short)").headers["location"] == "https://old.example/",
                "node 1 caught up some other way: the test no longer shows anything")

        // Node 1 is asked first and answers the old value: the proxy asks node 0 instead.
        try expectNewValue(port, short)
        let metrics = try request(port, "GET", "/_/metrics").body
        #expect(!metrics.contains("linkring_proxy_behind_answers_total 0\n"))

        // Only the replica that missed it is up: no answer rather than the old value.
        cluster.kill9(0)
        #expect(cluster.waitFor { (try? cluster.proxyState(of: 0)) == "down" })
        let alone = try request(port, "GET", "/\(short)")
        #expect(alone.status == 503, "answered \(alone.status) \(alone.headers["location"] ?? "") from the replica that is behind")
    }

    @Test("a replica that missed the write replacing its far-future entry (an older release's) never answers that entry")
    func farFutureEntryOnTheReplicaThatMissedTheWrite() throws {
        let (cluster, short) = try clusterWithKeyFirstOnNode1(prefix: "ahead")
        let planted = LogRecord(version: UInt64.max, op: .put, key: Array(short.utf8), value: Array("https://planted.example/".utf8))
        try cluster.restartNode(1) { try writeLog([planted], toDirectory: $0) }
        #expect(cluster.waitFor { (try? cluster.proxyState(of: 1)) == "up" })
        try makeNode1Miss(cluster, short)
        #expect(try cluster.nodeRequest(1, "GET", "/\(short)").headers["location"] == "https://planted.example/",
                "node 1 caught up some other way: the test no longer shows anything")

        // Its version is above the read floor, but no writer mints it: node 1 is behind.
        try expectNewValue(cluster.proxy.port, short)
    }

    /// Two nodes, repair too rare to run, and a key whose first replica is node 1.
    private func clusterWithKeyFirstOnNode1(prefix: String) throws -> (TestCluster, String) {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--sync-interval-ms", "3600000"])
        let key = try (0..<200).map { "\(prefix)\($0)" }.first { try cluster.replicas(of: $0).first == 1 }
        return (cluster, try #require(key, "no key whose first replica is node 1"))
    }

    /// Writes https://new.example/ to `short` while node 1 is down, so that node 0 alone
    /// acknowledges it; then node 1 comes back while node 0 is dead (its recovery finds
    /// nobody, so it never gets the new value), and node 0 comes back too (it holds it on disk).
    private func makeNode1Miss(_ cluster: TestCluster, _ short: String) throws {
        cluster.kill9(1)
        #expect(cluster.waitFor { (try? cluster.proxyState(of: 1)) == "down" })
        #expect(try put(cluster.proxy.port, "/?short=\(short)&long=https://new.example/", body: "").status == 200)
        cluster.kill9(0)
        try cluster.startNode(1)
        #expect(cluster.waitFor(timeoutMs: 15_000) { isReady(cluster, 1) }, "node 1 never ready")
        try cluster.startNode(0)
        #expect(cluster.waitFor(timeoutMs: 15_000) { isReady(cluster, 0) }, "node 0 never ready")
        #expect(cluster.waitFor { (try? cluster.proxyState(of: 0)) == "up" && (try? cluster.proxyState(of: 1)) == "up" })
    }

    private func expectNewValue(_ port: Int, _ short: String) throws {
        for _ in 0..<20 {
            let read = try request(port, "GET", "/\(short)")
            #expect(read.status == 307 && read.headers["location"] == "https://new.example/",
                    "read \(read.status) \(read.headers["location"] ?? "") after the new value was acknowledged")
        }
    }

    private func isReady(_ cluster: TestCluster, _ index: Int) -> Bool {
        (try? cluster.nodeRequest(index, "GET", "/_/health").body.contains("\"state\":\"ready\"")) ?? false
    }
}
