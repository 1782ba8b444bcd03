// Healing against a real cluster: a node killed under load catches up before it serves
// reads, replicas converge by anti-entropy, a node with an empty disk refills, and the proxy
// restarts a dead node with the restart command.

import Foundation
import Glibc
import LinkRingCore
import Testing

extension TestCluster {
    var ring: HashRing {
        HashRing(nodes: ports.map { HostPort(host: "127.0.0.1", port: $0) }, vnodesPerNode: 64, replicas: 2)
    }

    /// A node's per-range digests (a binary body, read as raw bytes).
    func digests(_ index: Int) throws -> [UInt64] {
        let raw = try rawBody(port: ports[index], target: "/_/digests")
        return try #require(SyncCodec.decodeDigests(raw, ringID: SyncCodec.ringID(ring), rangeCount: ring.rangeCount))
    }

    /// Ranges whose digests differ between `node` and the peers that share them.
    func divergentRanges(of node: Int) throws -> [String] {
        let mine = try digests(node)
        var divergent: [String] = []
        for peer in 0..<ports.count where peer != node && nodes[peer] != nil {
            let theirs = try digests(peer)
            for range in 0..<ring.rangeCount {
                let replicas = ring.replicas(ofRange: range)
                if replicas.contains(node), replicas.contains(peer), mine[range] != theirs[range] {
                    divergent.append("range \(range) with node \(peer)")
                }
            }
        }
        return divergent
    }

    func nodeState(_ index: Int) -> String? {
        guard let health = try? request(ports[index], "GET", "/_/health") else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any])?["state"] as? String
    }
}

/// The raw bytes of a GET's body.
func rawBody(port: Int, target: String) throws -> [UInt8] {
    let client = try TestClient(port: port)
    try client.send("GET \(target) HTTP/1.1\r\nHost: t\r\n\r\n")
    return try client.readRawResponseBody()
}

@Suite("Healing (real cluster)", .serialized)
struct HealingTests {
    @Test("kill -9 under load: the node comes back ready within 10 s holding exactly what its replicas hold; no GET error or stale value")
    func killAndCatchUp() throws {
        // The production ping interval: the window between a node's own repair and the proxy
        // sending it writes again is then as wide as it is in the field.
        let cluster = try TestCluster(nodeArguments: ["--sync-interval-ms", "1000"], pingIntervalMs: 250)
        let ledger = Ledger()
        let port = cluster.proxy.port
        runWrites(port: port, (0..<10_000).map { .put("h\($0)", seq: 0) }, ledger: ledger)
        #expect(ledger.writeFailures.isEmpty, "\(ledger.writeFailures.prefix(5))")
        let readKeys = (0..<5_000).map { "h\($0)" } + (6_000..<10_000).map { "h\($0)" }
        let reader = startReader(port: port, keys: readKeys.shuffled(), ledger: ledger)
        let victim = 1
        cluster.kill9(victim)
        var phaseTwo: [WriteOp] = (0..<5_000).map { .put("h\($0)", seq: 1) }
        phaseTwo += (10_000..<14_000).map { .put("h\($0)", seq: 0) }
        phaseTwo += (5_000..<6_000).map { .delete("h\($0)") }
        // The victim comes back while phase two is still writing: writes acknowledged by the
        // other replicas after the victim's own start-up repair must not be missing from reads.
        let shuffled = phaseTwo.shuffled()
        let writer = Thread { runWrites(port: port, shuffled, ledger: ledger, readBack: true) }
        writer.start()
        usleep(400_000)
        let restarted = Date()
        try cluster.startNode(victim)
        while !writer.isFinished { usleep(10_000) }
        #expect(ledger.writeFailures.isEmpty, "writes around the failure: \(ledger.writeFailures.prefix(5))")
        #expect(cluster.waitFor(timeoutMs: 10_000) { cluster.nodeState(victim) == "ready" }, "ready within 10 s")
        let readyAfter = Date().timeIntervalSince(restarted)
        usleep(300_000)  // reads keep going after the node is back in rotation
        ledger.stop()
        while !reader.isFinished { usleep(10_000) }
        print("healing: ready \(String(format: "%.2f", readyAfter)) s after restart; \(ledger.reads) reads during the run")
        #expect(ledger.readErrors.isEmpty, "\(ledger.readErrors.count) read errors: \(ledger.readErrors.prefix(5))")
        #expect(ledger.staleReads.isEmpty, "\(ledger.staleReads.count) stale reads: \(ledger.staleReads.prefix(5))")
        #expect(try cluster.divergentRanges(of: victim).isEmpty)
        try expectFinalState(cluster, ledger.expected(), sample: 2_000)
    }

    @Test("a write that reached one replica only reaches the other within one anti-entropy interval")
    func antiEntropyConverges() throws {
        let intervalMs = 1_000
        let cluster = try TestCluster(nodeArguments: ["--sync-interval-ms", "\(intervalMs)"])
        #expect(cluster.waitFor { (0..<4).allSatisfy { cluster.nodeState($0) == "ready" } })
        let replicas = try cluster.replicas(of: "solo")
        let version = UInt64(Date().timeIntervalSince1970 * 1000 - 1_577_836_800_000) << 22
        #expect(try put(cluster.ports[replicas[0]], "/_/kv?v=\(version)&short=solo", body: "http://only-one").status == 200)
        let written = Date()
        #expect(cluster.waitFor(timeoutMs: intervalMs + 1_000) {
            (try? request(cluster.ports[replicas[1]], "GET", "/_/kv?short=solo").body) == "http://only-one"
        })
        let elapsedMs = Int(Date().timeIntervalSince(written) * 1000)
        print("anti-entropy: converged \(elapsedMs) ms after a one-replica write (interval \(intervalMs) ms)")
        #expect(elapsedMs <= intervalMs + 500)
        #expect(try cluster.divergentRanges(of: replicas[0]).isEmpty)
        // The pull is counted: the record, and the key page of its range that listed it.
        let health = try request(cluster.ports[replicas[1]], "GET", "/_/health").body
        let sync = (try? JSONSerialization.jsonObject(with: Data(health.utf8)) as? [String: Any])?["sync"] as? [String: Any]
        #expect((sync?["repaired"] as? Int ?? 0) >= 1, "\(health)")
        #expect((sync?["pages"] as? Int ?? 0) >= 1, "\(health)")
    }

    @Test("a node restarted with an empty data directory refills its ranges from its peers")
    func emptyDiskRefills() throws {
        let cluster = try TestCluster(nodeArguments: ["--sync-interval-ms", "60000"])
        let ledger = Ledger()
        runWrites(port: cluster.proxy.port, (0..<2_000).map { .put("e\($0)", seq: 0) }, ledger: ledger)
        runWrites(port: cluster.proxy.port, (0..<200).map { .delete("e\($0)") }, ledger: ledger)
        let victim = 2
        let before = try request(cluster.ports[victim], "GET", "/_/health").body
        #expect(cluster.nodes[victim]!.stop() == 0)
        cluster.nodes[victim] = nil
        try FileManager.default.removeItem(atPath: "\(cluster.directory)/node\(victim)")
        try cluster.startNode(victim)
        #expect(cluster.waitFor(timeoutMs: 10_000) { cluster.nodeState(victim) == "ready" })
        let after = try request(cluster.ports[victim], "GET", "/_/health").body
        func count(_ json: String, _ field: String) -> Int? {
            (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?[field] as? Int
        }
        #expect(count(after, "keys") == count(before, "keys") && count(after, "tombstones") == count(before, "tombstones"))
        #expect((count(after, "keys") ?? 0) > 500)
        #expect(try cluster.divergentRanges(of: victim).isEmpty)
    }

    @Test("the proxy restarts a node that stays down with the restart command, logging each attempt")
    func restartCommand() throws {
        let directory = makeTemporaryDirectory()
        let script = directory + "/restart.sh"
        let pidFile = directory + "/restarted.pid"
        let cluster = try TestCluster(nodeCount: 3, proxyArguments: [
            "--restart-command", script, "--restart-after-ms", "300",
        ])
        try """
        #!/bin/sh
        # Restart command for the test: start the node at $1:$2 in the background, record its PID.
        "\(Binaries.node)" --listen "$1:$2" --data "\(cluster.directory)/node-restarted" --hosts "\(cluster.hostsPath)" \\
            >"\(directory)/restarted.out" 2>&1 </dev/null &
        echo $! > "\(pidFile)"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
            }
        }
        cluster.kill9(0)
        #expect(cluster.waitFor(timeoutMs: 8_000) { FileManager.default.fileExists(atPath: pidFile) })
        #expect(cluster.waitFor(timeoutMs: 8_000) { (try? cluster.proxyState(of: 0)) == "up" })
        #expect(cluster.proxy.errors.contains("restarting node 127.0.0.1:\(cluster.ports[0])"))
        #expect(try request(cluster.proxy.port, "PUT", "/?short=r&long=http://r").status == 200)
    }

    @Test("a restart command that hangs: one at a time per node, killed past --restart-timeout-ms, and SIGTERM still exits 0 at once")
    func hangingRestartCommand() throws {
        let directory = makeTemporaryDirectory()
        let script = directory + "/hang.sh"
        let starts = directory + "/starts"
        try "#!/bin/sh\necho $$ >> \"\(starts)\"\nexec sleep 20\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let hosts = directory + "/hosts.txt"
        try freePorts(2).map { "127.0.0.1:\($0)\n" }.joined().write(toFile: hosts, atomically: true, encoding: .utf8)
        let proxy = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", hosts, "--ping-interval-ms", "50",
            "--down-after", "1", "--restart-command", script, "--restart-after-ms", "100", "--restart-timeout-ms", "1500"])
        func startedPids() -> [Int32] {
            ((try? String(contentsOfFile: starts, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        }
        defer { for pid in startedPids() { kill(pid, SIGKILL) } }  // ours: the commands this test made
        usleep(2_600_000)
        // Two nodes down: per node the first command hangs until killed at 1.5 s, then one more starts.
        let count = startedPids().count
        #expect(count >= 2 && count <= 4, "\(count) commands started for 2 nodes in 2.6 s (one at a time per node)")
        #expect(proxy.errors.contains("still running after") && proxy.errors.contains("killing it"), "\(proxy.errors.suffix(500))")
        // Killed: gone, or a zombie left for init (this container's init may not reap them).
        func isGone(_ pid: Int32) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            return stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") == true
        }
        #expect(startedPids().prefix(2).allSatisfy(isGone), "the first two commands were killed")
        let began = Date()
        #expect(proxy.stop() == 0, "SIGTERM with restart commands running exits 0")
        #expect(Date().timeIntervalSince(began) < 3, "shutdown does not wait for restart commands")
    }
}

/// Every key of `expected` (or a sample) reads back through the proxy as the ledger says.
func expectFinalState(_ cluster: TestCluster, _ expected: [String: String?], sample: Int) throws {
    let client = try TestClient(port: cluster.proxy.port)
    var wrong: [String] = []
    for (key, value) in expected.shuffled().prefix(sample) {
        let answer = try client.request("GET", "/\(key)")
        if let value {
            if answer.status != 307 || answer.headers["location"] != value { wrong.append("\(key): \(answer.status) \(answer.headers["location"] ?? "")") }
        } else if answer.status != 404 {
            wrong.append("\(key): expected deleted, got \(answer.status)")
        }
    }
    #expect(wrong.isEmpty, "\(wrong.count) wrong: \(wrong.prefix(5))")
}
