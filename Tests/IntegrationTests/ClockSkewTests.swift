// Clock skew against real processes (issue 19, finding 2), with the clockshift shim
// (Tests/tools/clockshift.c) moving one process's wall clock and nothing else: proxies mint
// versions on the nodes' time, so a write acknowledged later wins however wrong a proxy's own
// clock is; a node whose clock is behind the others' refuses writes loudly, naming the
// proxy; the offsets show on /_/status and /_/metrics; a proxy that has heard from no node
// holds its writes, then says why it cannot version them.

import Foundation
import Glibc
import LinkRingCore
import Testing

/// The clockshift LD_PRELOAD library, compiled once per test run from its source.
enum ClockShift {
    static let library: String = {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/clockshift.c").path
        let output = makeTemporaryDirectory() + "/clockshift.so"
        let result = try? runToExit("/usr/bin/cc", ["-shared", "-fPIC", "-O2", "-o", output, source, "-ldl"])
        precondition(result?.code == 0, "cc clockshift.c failed: \(result?.output ?? "no cc")")
        return output
    }()

    /// The environment that moves a process's wall clock by `ms`.
    static func environment(shiftMs: Int) -> [String: String] {
        ["LD_PRELOAD": library, "LINKRING_CLOCK_SHIFT_MS": "\(shiftMs)"]
    }
}

extension TestCluster {
    /// Another proxy for this cluster, its wall clock moved by `shiftMs`.
    func startProxy(shiftMs: Int, _ extra: [String] = []) throws -> ServerProcess {
        try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", hostsPath, "--ping-interval-ms", "50",
                                                 "--down-after", "2", "--status-interval-s", "0"] + extra,
                                environment: ClockShift.environment(shiftMs: shiftMs))
    }

    /// Node `index` again, its wall clock moved by `shiftMs`.
    func startNode(_ index: Int, shiftMs: Int) throws {
        nodes[index] = try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:\(ports[index])", "--data", "\(directory)/node\(index)",
                                                               "--hosts", hostsPath] + nodeArguments,
                                               environment: ClockShift.environment(shiftMs: shiftMs))
    }
}

func statusJSON(_ port: Int, path: String = "/_/status") throws -> [String: Any] {
    let status = try request(port, "GET", path)
    return try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any] ?? [:]
}

/// Node `address`'s state as proxy `port` sees it.
func nodeState(_ port: Int, _ address: String) -> String? {
    let nodes = (try? statusJSON(port))?["nodes"] as? [[String: Any]] ?? []
    return nodes.first { $0["address"] as? String == address }?["state"] as? String
}

@Suite("Clock skew (real cluster)", .serialized)
struct ClockSkewTests {
    @Test("a write acknowledged later wins: X through a proxy a minute fast, Y through one a minute slow, replicas swapped between them")
    func laterWriteWinsUnderSkew() throws {
        let cluster = try TestCluster(nodeCount: 2, nodeArguments: ["--sync-interval-ms", "100"])
        let fast = try cluster.startProxy(shiftMs: 60_000)
        let slow = try cluster.startProxy(shiftMs: -60_000)
        defer { fast.stop(); slow.stop() }
        let first = "127.0.0.1:\(cluster.ports[0])", second = "127.0.0.1:\(cluster.ports[1])"

        // R2 down: X through the fast proxy, acknowledged by R1 alone.
        _ = cluster.nodes[1]?.stop()
        #expect(cluster.waitFor { nodeState(fast.port, second) == "down" })
        #expect(try put(fast.port, "/?short=swap&long=https://x.example/", body: "").status == 200)
        // R1 down, R2 back: Y through the slow proxy, acknowledged by R2 alone.
        _ = cluster.nodes[0]?.stop()
        try cluster.startNode(1)
        #expect(cluster.waitFor { nodeState(slow.port, first) == "down" && nodeState(slow.port, second) == "up" })
        #expect(try put(slow.port, "/?short=swap&long=https://y.example/", body: "").status == 200)
        #expect(try request(slow.port, "GET", "/swap").headers["location"] == "https://y.example/")
        // R1 back: after repair both replicas and both proxies answer Y.
        try cluster.startNode(0)
        #expect(cluster.waitFor(timeoutMs: 10_000) {
            (try? cluster.stored("swap", on: 0).value) == "https://y.example/" && (try? cluster.stored("swap", on: 1).value) == "https://y.example/"
        }, "replicas hold \(String(describing: try? cluster.stored("swap", on: 0))) and \(String(describing: try? cluster.stored("swap", on: 1)))")
        for proxy in [fast, slow] {
            #expect(cluster.waitFor { (try? request(proxy.port, "GET", "/swap").headers["location"]) == "https://y.example/" })
        }
    }

    @Test("a proxy a minute slow shows its offset to each node on /_/status and /_/metrics, and warns about its own clock")
    func offsetsAreShown() throws {
        let cluster = try TestCluster(nodeCount: 2)
        let slow = try cluster.startProxy(shiftMs: -60_000)
        defer { slow.stop() }
        #expect(cluster.waitFor { (try? statusJSON(slow.port)["clock"] as? [String: Any])?["learned"] as? Bool == true })
        let status = try statusJSON(slow.port)
        let own = (status["clock"] as? [String: Any])?["offsetMs"] as? Int ?? 0
        #expect(abs(own - 60_000) < 500, "cluster time minus this host's clock: \(own)")
        for node in status["nodes"] as? [[String: Any]] ?? [] {
            let offset = node["clockOffsetMs"] as? Int ?? 0
            #expect(abs(offset - 60_000) < 500, "\(node["address"] ?? "?") offset \(offset)")
        }
        let metrics = try request(slow.port, "GET", "/_/metrics").body
        #expect(metrics.contains("linkring_proxy_clock_offset_seconds 59.") || metrics.contains("linkring_proxy_clock_offset_seconds 60"))
        #expect(metrics.contains("linkring_node_clock_offset_seconds{node=\"127.0.0.1:\(cluster.ports[0])\"} 59.")
                || metrics.contains("linkring_node_clock_offset_seconds{node=\"127.0.0.1:\(cluster.ports[0])\"} 60"))
        #expect(slow.errors.contains("WARN this host's clock is") && slow.errors.contains("behind the storage nodes'"))
    }

    @Test("a node 5 s behind the others refuses the proxy's versions, loudly on both sides; the write succeeds on the other replica")
    func slowNodeRefusesLoudly() throws {
        let cluster = try TestCluster(nodeCount: 3, proxyArguments: ["--proxy-id", "7"])
        _ = cluster.nodes[2]?.stop()
        try cluster.startNode(2, shiftMs: -5_000)
        #expect(cluster.waitFor { nodeState(cluster.proxy.port, "127.0.0.1:\(cluster.ports[2])") == "up" })
        #expect(cluster.waitFor { cluster.proxy.errors.contains("disagree with cluster time") },
                "the proxy names the node whose clock is off: \(cluster.proxy.errors.suffix(400))")
        let key = try (0..<200).map { "slow\($0)" }.first { try cluster.replicas(of: $0).contains(2) }!
        let answer = try put(cluster.proxy.port, "/?short=\(key)&long=https://kept.example/", body: "")
        #expect(answer.status == 200, "the other replica acknowledged: \(answer.status) \(answer.body)")
        let node = cluster.nodes[2]!
        #expect(cluster.waitFor { node.errors.contains("version origin 7") }, "the node names the proxy: \(node.errors.suffix(400))")
        #expect(cluster.proxy.errors.contains("refuses this proxy's versions"))
        #expect(try cluster.healthField(2, "versionsRefused") >= 1)
    }

    @Test("before any node answers, writes wait; with none answering they get a 503 that says why")
    func writesWaitForTheNodesTime() throws {
        let ports = try freePorts(2)
        let directory = makeTemporaryDirectory()
        try ports.map { "127.0.0.1:\($0)\n" }.joined().write(toFile: directory + "/hosts.txt", atomically: true, encoding: .utf8)
        let proxy = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", directory + "/hosts.txt",
                                                             "--node-timeout-ms", "300", "--ping-interval-ms", "50"])
        defer { proxy.stop() }
        let started = Date()
        let answer = try put(proxy.port, "/?short=early&long=https://early.example/", body: "")
        #expect(answer.status == 503 && answer.body.contains("has not yet heard from any storage node"), "\(answer.status) \(answer.body)")
        #expect(Date().timeIntervalSince(started) < 5)
        let status = try statusJSON(proxy.port)
        #expect((status["clock"] as? [String: Any])?["learned"] as? Bool == false)
    }
}
