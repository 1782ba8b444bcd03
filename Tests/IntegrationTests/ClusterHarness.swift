// A whole local cluster for tests: N nodes on free loopback ports listed in a temporary hosts
// file, and a proxy in front of them with fast health checks. With `clusterToken`, every node
// and the proxy read it from a 0600 file (--cluster-token-file), as the scripts run them; a
// test then talks to a node directly through `nodeRequest`, which sends the token.

import Foundation
import Glibc
import Testing

/// A free TCP port on 127.0.0.1, below the ephemeral range (32768+): a port the kernel hands
/// out for outbound connections could be taken by a node's connection to a peer before the
/// node that should listen on it starts.
func freePort() throws -> Int {
    for _ in 0..<200 {
        let candidate = Int.random(in: 20_000..<32_000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(candidate).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if bound == 0 { return candidate }
    }
    throw HarnessError("no free port found below 32000")
}

/// `count` distinct free ports (freePort does not hold its port: two calls can agree).
func freePorts(_ count: Int) throws -> [Int] {
    var ports: [Int] = []
    while ports.count < count {
        let port = try freePort()
        if !ports.contains(port) { ports.append(port) }
    }
    return ports
}

final class TestCluster {
    let directory = makeTemporaryDirectory()
    let hostsPath: String
    var ports: [Int]
    var nodes: [ServerProcess?]
    var proxy: ServerProcess!
    let nodeArguments: [String]
    /// The header line that carries the cluster token, or none without a token.
    let tokenHeaders: [String]

    init(nodeCount: Int = 4, nodeArguments: [String] = [], proxyArguments: [String] = [], pingIntervalMs: Int = 50,
         clusterToken: String? = nil) throws {
        ports = try freePorts(nodeCount)
        hostsPath = directory + "/hosts.txt"
        try ("# test cluster\n" + ports.map { "127.0.0.1:\($0)\n" }.joined()).write(toFile: hostsPath, atomically: true, encoding: .utf8)
        let folder = directory
        let tokenArguments = try clusterToken.map { ["--cluster-token-file", try writeTokenFile($0, in: folder)] } ?? []
        tokenHeaders = clusterToken.map { ["X-Cluster-Token: \($0)"] } ?? []
        self.nodeArguments = nodeArguments + tokenArguments
        nodes = Array(repeating: nil, count: nodeCount)
        for index in 0..<nodeCount { try startNode(index) }
        proxy = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", hostsPath,
                                                         "--ping-interval-ms", "\(pingIntervalMs)", "--down-after", "2",
                                                         "--status-interval-s", "0"] + proxyArguments + tokenArguments)
    }

    /// One request straight to node `index`, with the cluster token when the cluster has one.
    func nodeRequest(_ index: Int, _ method: String, _ target: String) throws -> TestResponse {
        try request(ports[index], method, target, headers: tokenHeaders)
    }

    deinit { stopAll() }

    func startNode(_ index: Int) throws {
        nodes[index] = try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:\(ports[index])", "--data", "\(directory)/node\(index)",
                                                               "--hosts", hostsPath] + nodeArguments)
    }

    func kill9(_ index: Int) {
        nodes[index]?.kill9()
        nodes[index] = nil
    }

    func stopAll() {
        proxy?.stop()
        for node in nodes { node?.stop() }
    }

    /// The node indices holding `key`, as the proxy's /_/status?key= says.
    func replicas(of key: String) throws -> [Int] {
        let status = try request(proxy.port, "GET", "/_/status?key=\(key)")
        let json = try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any]
        let addresses = json?["replicas"] as? [String] ?? []
        return addresses.compactMap { address in ports.firstIndex { "127.0.0.1:\($0)" == address } }
    }

    /// The proxy's view of a node: "up", "down" or "unknown".
    func proxyState(of index: Int) throws -> String {
        let status = try request(proxy.port, "GET", "/_/status")
        let json = try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any]
        let nodes = json?["nodes"] as? [[String: Any]] ?? []
        return nodes.first { $0["address"] as? String == "127.0.0.1:\(ports[index])" }?["state"] as? String ?? "missing"
    }

    /// Polls until `condition` holds or `timeoutMs` passes.
    func waitFor(timeoutMs: Int = 5_000, _ condition: () throws -> Bool) rethrows -> Bool {
        try IntegrationTests.waitFor(timeoutMs: timeoutMs, condition)
    }
}

/// Polls `condition` every 20 ms until it holds or `timeoutMs` passes.
func waitFor(timeoutMs: Int = 5_000, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}
