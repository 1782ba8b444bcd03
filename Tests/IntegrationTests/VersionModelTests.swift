// The version model against real processes (issue 11, findings 1 and 2): a far-future version
// planted on a node is refused on every path and cannot lock a key or a clock; a key that
// already holds one (from an older release) is replaced by the next write, on every replica
// and across a restart; two proxies forced onto one origin id still leave both replicas of
// every key with the same value.

import Foundation
import Glibc
import LinkRingCore
import Testing

extension TestCluster {
    /// A node's stored value and version of `key` (GET /_/kv): nil value for 404.
    func stored(_ key: String, on index: Int) throws -> (value: String?, version: UInt64) {
        let answer = try request(ports[index], "GET", "/_/kv?short=\(key)")
        return (answer.status == 200 ? answer.body : nil, UInt64(answer.headers["x-version"] ?? "") ?? 0)
    }

    func healthField(_ index: Int, _ field: String) throws -> Int {
        let health = try request(ports[index], "GET", "/_/health")
        let json = try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any]
        return json?[field] as? Int ?? -1
    }

    /// Stops node `index`, lets `edit` change its data directory, and starts it again.
    func restartNode(_ index: Int, editing edit: (String) throws -> Void = { _ in }) throws {
        _ = nodes[index]?.stop()
        try edit("\(directory)/node\(index)")
        try startNode(index)
    }
}

/// Writes a log that holds `records` (what an older release could have stored: its single
/// linkring.log, which the node converts to segment 1), in place of the directory's log.
func writeLog(_ records: [LogRecord], toDirectory directory: String) throws {
    var bytes = LogRecord.fileMagic
    for record in records { record.encode(into: &bytes) }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasPrefix("linkring-") || name == "linkring.hint" {
        try FileManager.default.removeItem(atPath: directory + "/" + name)
    }
    try Data(bytes).write(to: URL(fileURLWithPath: directory + "/linkring.log"))
}

@Suite("Version model (real cluster)", .serialized)
struct VersionModelTests {
    static let farFuture: [UInt64] = [UInt64.max, ((1 << 42) - 1) << 22]

    @Test("a far-future version sent to a replica is refused (422); then 500 writes through the proxy all succeed and read back")
    func farFuturePlantIsRefused() throws {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--sync-interval-ms", "200"])
        for version in Self.farFuture {
            let planted = try put(cluster.ports[0], "/_/kv?v=\(version)&short=locked", body: "https://planted.example/")
            #expect(planted.status == 422, "\(planted.status) \(planted.body)")
            #expect(planted.body.contains("ahead of this node's clock"))
        }
        let ahead = try put(cluster.ports[1], "/_/kv?v=\(Self.version(aheadMs: 5_000))&short=locked", body: "https://planted.example/")
        #expect(ahead.status == 422, "five seconds ahead is beyond the default skew of one")
        for node in 0..<2 { #expect(try cluster.stored("locked", on: node).value == nil) }
        #expect(try cluster.healthField(0, "versionsRefused") == 2)

        let port = cluster.proxy.port
        let keys = ["locked"] + (0..<499).map { "fresh\($0)" }
        let ledger = Ledger()
        runWrites(port: port, keys.map { .put($0, seq: 1) }, workers: 8, ledger: ledger)
        #expect(ledger.writeFailures.isEmpty, "\(ledger.writeFailures.prefix(5))")
        for key in keys {
            let read = try request(port, "GET", "/\(key)")
            #expect(read.status == 307 && read.headers["location"] == "http://v/\(key)/1", "\(key): \(read.status)")
        }
    }

    @Test("a key holding a far-future version from an older release yields to the next write, on both replicas and after a restart")
    func farFutureEntryIsReplaced() throws {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--sync-interval-ms", "200"])
        let planted = LogRecord(version: UInt64.max, op: .put, key: Array("locked".utf8), value: Array("https://planted.example/".utf8))
        for node in 0..<2 {
            try cluster.restartNode(node) { try writeLog([planted], toDirectory: $0) }
            #expect(cluster.nodes[node]!.errors.contains("1 key(s) hold a version more than 1000 ms ahead"))
        }
        #expect(try cluster.stored("locked", on: 0).version == UInt64.max)
        #expect(cluster.waitFor { (try? cluster.proxyState(of: 0)) == "up" && (try? cluster.proxyState(of: 1)) == "up" })

        let port = cluster.proxy.port
        #expect(try request(port, "PUT", "/?short=locked&long=https://mine.example/").status == 200)
        #expect(try request(port, "GET", "/locked").headers["location"] == "https://mine.example/")
        for node in 0..<2 {
            // A replica found late on a loaded machine gets the write moments after the 200.
            _ = cluster.waitFor { (try? cluster.stored("locked", on: node).value) == "https://mine.example/" }
            let stored = try cluster.stored("locked", on: node)
            #expect(stored.value == "https://mine.example/" && stored.version < UInt64.max, "node \(node): \(stored)")
            #expect(try cluster.healthField(node, "farFutureReplaced") == 1)
        }
        #expect(try request(port, "PUT", "/?short=other&long=https://other.example/").status == 200, "other keys are unaffected")

        try cluster.restartNode(0)
        #expect(try cluster.stored("locked", on: 0).value == "https://mine.example/", "replay reproduces the replacement")
        let dump = try runToExit(Binaries.node, ["dump", "\(cluster.directory)/node0"])
        #expect(dump.output.contains("forget locked"))
    }

    @Test("repair neither copies a far-future version to a replica nor lets it win: the replica's write replaces it")
    func repairRefusesFarFuture() throws {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--sync-interval-ms", "100"])
        let planted = LogRecord(version: UInt64.max, op: .put, key: Array("locked".utf8), value: Array("https://planted.example/".utf8))
        try cluster.restartNode(0) { try writeLog([planted], toDirectory: $0) }
        #expect(cluster.waitFor { (try? cluster.healthField(1, "versionsRefused")) ?? 0 >= 1 })
        #expect(try cluster.stored("locked", on: 1).value == nil, "node 1 did not copy the far-future version")

        let write = try put(cluster.ports[1], "/_/kv?v=\(Self.version(aheadMs: 0))&short=locked", body: "https://mine.example/")
        #expect(write.status == 200)
        #expect(cluster.waitFor { (try? cluster.stored("locked", on: 0).value) == "https://mine.example/" },
                "node 0 pulled the acceptable version over its far-future one")
        #expect(try cluster.divergentRanges(of: 0).isEmpty)
    }

    @Test("two proxies with one origin id write different values to the same 400 keys at once: both replicas of every key agree")
    func sameOriginProxiesConverge() throws {
        // Repair once a minute: copies that differ are not mended by it while the test looks.
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--sync-interval-ms", "60000"], proxyArguments: ["--proxy-id", "7"])
        let twin = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", cluster.hostsPath, "--proxy-id", "7",
                                                            "--ping-interval-ms", "50", "--status-interval-s", "0"])
        defer { twin.stop() }
        let keys = (0..<400).map { "twin\($0)" }
        let ports = [cluster.proxy.port, twin.port]
        #expect(cluster.waitFor { ports.allSatisfy { (try? request($0, "GET", "/_/health").status) == 200 } })
        let ledger = Ledger()
        DispatchQueue.concurrentPerform(iterations: 16) { worker in
            let port = ports[worker % 2]
            guard let client = try? TestClient(port: port) else { return ledger.writeFailed("connect") }
            for key in keys.indices where key % 8 == worker / 2 {
                let answer = try? client.request("PUT", "/?short=\(keys[key])&long=https://proxy\(worker % 2).example/\(keys[key])")
                if answer?.status != 200 { ledger.writeFailed("\(keys[key]): \(answer?.status ?? 0)") }
            }
        }
        #expect(ledger.writeFailures.isEmpty, "\(ledger.writeFailures.prefix(5))")
        // A replica found late (a loaded machine) gets its write moments after the 200: copies
        // that differ are looked at again for a while; two writes of one version would differ for good.
        var differing: [String] = []
        _ = try cluster.waitFor(timeoutMs: 2_000) {
            differing = try keys.compactMap { key in
                let (a, b) = (try cluster.stored(key, on: 0), try cluster.stored(key, on: 1))
                return a.value != b.value || a.version != b.version ? "\(key): \(a) vs \(b)" : nil
            }
            return differing.isEmpty
        }
        #expect(differing.isEmpty, "\(differing.count) keys differ, e.g. \(differing.prefix(3))")
        #expect(try cluster.divergentRanges(of: 0).isEmpty)
    }

    @Test("clocks that disagree fail loudly: a 503 that says so, an ERROR line and a metric on the proxy, nothing stored")
    func skewedClocksFailLoudly() throws {
        // Node 0 accepts versions up to a minute ahead (as a host whose clock ran 5 s fast
        // would have) and holds one 5 s ahead of everyone else. ClockSkewTests moves clocks.
        let cluster = try TestCluster(nodeCount: 2)
        _ = cluster.nodes[0]?.stop()
        cluster.nodes[0] = try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:\(cluster.ports[0])", "--data",
            "\(cluster.directory)/node0", "--hosts", cluster.hostsPath, "--clock-skew-ms", "60000"])
        let ahead = Self.version(aheadMs: 5_000)
        #expect(try put(cluster.ports[0], "/_/kv?v=\(ahead)&short=fast", body: "https://fast.example/").status == 200)
        #expect(cluster.waitFor { (try? cluster.proxyState(of: 0)) == "up" && (try? cluster.proxyState(of: 1)) == "up" })

        // The proxy sees a version 5 s ahead of its clock in node 0's 409: it must not adopt it.
        let answer = try request(cluster.proxy.port, "PUT", "/?short=fast&long=https://mine.example/")
        #expect(answer.status == 503 && answer.body.contains("clocks of the storage nodes disagree"), "\(answer.status)")
        #expect(cluster.proxy.errors.contains("ERROR") && cluster.proxy.errors.contains("ahead of cluster time"))
        #expect(try request(cluster.proxy.port, "GET", "/_/metrics").body.contains("linkring_proxy_clock_skew_refusals_total 1"))

        // A proxy that adopts it (as one whose clock runs fast would) is refused by node 1: 422.
        let fast = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", cluster.hostsPath,
                                                            "--ping-interval-ms", "50", "--clock-skew-ms", "60000"])
        defer { fast.stop() }
        #expect(cluster.waitFor { (try? request(fast.port, "GET", "/_/health").status) == 200 })
        _ = try request(fast.port, "PUT", "/?short=fast&long=https://fast-proxy.example/")
        #expect(fast.errors.contains("ERROR") && fast.errors.contains("refuses this proxy's versions"), "\(fast.errors.suffix(500))")
        #expect(try request(fast.port, "GET", "/_/metrics").body.contains("linkring_proxy_clock_skew_refusals_total 1"))
        let onNode1 = try cluster.stored("fast", on: 1).version
        #expect(VersionSkew().accepts(onNode1, wallClockUnixMs: Int64(Date().timeIntervalSince1970 * 1000)),
                "node 1 stored nothing ahead of its clock")
        #expect(try cluster.healthField(1, "versionsRefused") >= 1)
    }

    /// A version minted now plus `aheadMs`.
    static func version(aheadMs: Int64) -> UInt64 {
        var clock = HybridClock(origin: 1)
        return clock.next(wallClockUnixMs: Int64(Date().timeIntervalSince1970 * 1000) + aheadMs)
    }
}
