// Operator routes against the real binaries (docs/DECISIONS.md, "Operator routes are served to
// this host only"): the proxy's /_/status, /_/status?key= and /_/metrics, and a node's full
// /_/health, answer on the admin address when --admin-listen names one and then never on the
// public port; by default the public port answers them to this host only (not to a request that
// came through a reverse proxy, nor, in the two-namespace test, to another host); with
// --admin-on-public, to everyone. /_/health stays on the public port for everyone: load
// balancers and the proxy's pings read it, and it names no internal address.
//
// The other host is a second network namespace joined to the first by a veth pair (root only,
// where namespaces can be made; skipped otherwise): the servers run in one, curl in the other.

import Foundation
import Glibc
import LinkRingCore
import Testing

/// The admin listener's port, from the "admin address HOST:PORT" line printed before "listening on".
func adminPort(of server: ServerProcess) throws -> Int {
    guard let line = server.output.split(separator: "\n").first(where: { $0.hasPrefix("admin address ") }) else {
        throw HarnessError("no 'admin address' line in: \(server.output)")
    }
    return try HostPort(parsing: String(line.dropFirst("admin address ".count))).port
}

/// A proxy for an unreachable one-node ring (127.0.0.1:1), so its operator routes have a node to
/// name; `launcher` goes in front of the binary (`ip netns exec NAMESPACE`).
func startLoneProxy(_ extra: [String], launcher: [String] = [], listen: String = "127.0.0.1:0") throws -> ServerProcess {
    let directory = makeTemporaryDirectory()
    try "127.0.0.1:1\n".write(toFile: directory + "/hosts.txt", atomically: true, encoding: .utf8)
    let command = launcher + [Binaries.proxy, "--listen", listen, "--hosts", directory + "/hosts.txt", "--replicas", "1"] + extra
    return try ServerProcess.start(command[0], Array(command.dropFirst()))
}

/// True for the short /_/health a node gives non-operators: state, id, clocks, repair progress, no counter.
func isPingDocument(_ body: String) -> Bool {
    body.hasPrefix("{\"state\":\"ready\",\"node\":\"") && body.contains(",\"wallClockMs\":") && body.contains(",\"versionClock\":")
        && body.trimmingCharacters(in: .newlines).hasSuffix(",\"sync\":{\"peers\":0,\"rounds\":0}}") && !body.contains("\"keys\"")
}

@Suite("Operator routes and the admin address (real binaries)")
struct AdminListenerTests {
    static let operatorTargets = ["/_/status", "/_/status?key=gh", "/_/metrics", "/_/unknown"]
    static let forwardingHeaders = ["X-Forwarded-For: 203.0.113.9", "Forwarded: for=203.0.113.9", "X-Real-IP: 203.0.113.9"]

    @Test("--admin-listen: the proxy's operator routes answer on the admin address, and the public port refuses them even to this host")
    func proxyAdminAddress() throws {
        let proxy = try startLoneProxy(["--admin-listen", "127.0.0.1:0"])
        defer { proxy.stop() }
        let admin = try adminPort(of: proxy)
        for target in Self.operatorTargets {
            let refused = try request(proxy.port, "GET", target)
            #expect(refused.status == 403, "\(target) on the public port")
            #expect(refused.body.contains("admin address (its --admin-listen option)") && !refused.body.contains("127.0.0.1:1"))
        }
        let status = try request(admin, "GET", "/_/status?key=gh")
        #expect(status.status == 200 && status.body.contains("\"replicas\":[\"127.0.0.1:1\"]"))
        let metrics = try request(admin, "GET", "/_/metrics")
        #expect(metrics.status == 200 && metrics.body.contains("linkring_node_up{node=\"127.0.0.1:1\"}"))
        #expect(try request(admin, "GET", "/_/unknown").status == 404)
        let health = try request(proxy.port, "GET", "/_/health")
        #expect(health.status == 503 && health.body.contains("\"nodes\":1") && !health.body.contains("127.0.0.1:1"))
        #expect(try request(admin, "GET", "/_/health").status == 503)
    }

    @Test("the admin address serves operator routes only: data requests get 404 and change nothing")
    func adminAddressHasNoData() throws {
        let (node, _) = try startNode(["--admin-listen", "127.0.0.1:0"])
        defer { node.stop() }
        let admin = try adminPort(of: node)
        let put = try request(admin, "PUT", "/?short=gh&long=http://example.com/")
        #expect(put.status == 404 && put.body.contains("admin address"))
        #expect(try request(admin, "GET", "/_/kv?short=gh").status == 404)
        #expect(try request(node.port, "GET", "/gh").status == 404, "the PUT on the admin address stored nothing")
        #expect(try request(node.port, "PUT", "/?short=gh&long=http://example.com/").status == 200)
        #expect(try request(admin, "GET", "/gh").status == 404)
        #expect(try request(admin, "POST", "/_/health", body: []).status == 405)
    }

    @Test("by default the public port answers operator routes to this host, but not through a reverse proxy")
    func proxyDefaultThisHostOnly() throws {
        let proxy = try startLoneProxy([])
        defer { proxy.stop() }
        #expect(!proxy.output.contains("admin address"))
        for target in Self.operatorTargets.dropLast() {
            #expect(try request(proxy.port, "GET", target).status == 200, "\(target) from this host")
            for header in Self.forwardingHeaders {
                let refused = try request(proxy.port, "GET", target, headers: [header])
                #expect(refused.status == 403 && refused.body.contains("came through a proxy"), "\(target) with \(header)")
            }
        }
        #expect(try request(proxy.port, "GET", "/_/health", headers: [Self.forwardingHeaders[0]]).status == 503)
    }

    @Test("a node's /_/health is complete on the admin address and for this host; elsewhere only what a ping reads")
    func nodeHealthDetail() throws {
        let (node, _) = try startNode(["--admin-listen", "127.0.0.1:0"])
        defer { node.stop() }
        let short = try request(node.port, "GET", "/_/health")
        #expect(short.status == 200 && isPingDocument(short.body), "\(short.body)")
        let full = try request(adminPort(of: node), "GET", "/_/health")
        #expect(full.status == 200 && full.body.contains("\"keys\":0") && full.body.contains("\"fsync\":\"always\""))
        let (shortReport, fullReport) = (NodeReport.parse(Array(short.body.utf8)), NodeReport.parse(Array(full.body.utf8)))
        #expect(shortReport.readiness == fullReport.readiness && shortReport.peers == fullReport.peers
                && shortReport.versionClock == fullReport.versionClock && shortReport.wallClockMs != nil
                && shortReport.nodeID != nil && shortReport.nodeID == fullReport.nodeID,
                "a proxy reads the same from the short document as from the full one")
        #expect(try request(adminPort(of: node), "HEAD", "/_/health").status == 200)

        let (local, _) = try startNode()
        defer { local.stop() }
        #expect(try request(local.port, "GET", "/_/health").body.contains("\"keys\":0"))
        let forwarded = try request(local.port, "GET", "/_/health", headers: [Self.forwardingHeaders[2]])
        #expect(forwarded.status == 200 && !forwarded.body.contains("\"keys\""))
    }

    @Test("--admin-on-public with --admin-listen: both answer the operator routes")
    func bothPlaces() throws {
        let proxy = try startLoneProxy(["--admin-listen", "127.0.0.1:0", "--admin-on-public"])
        defer { proxy.stop() }
        #expect(try request(proxy.port, "GET", "/_/status", headers: [Self.forwardingHeaders[0]]).status == 200)
        #expect(try request(adminPort(of: proxy), "GET", "/_/status").status == 200)
    }

    @Test("the admin listener has its own connection budget, and stops with the process")
    func adminConnectionsAndStop() throws {
        let proxy = try startLoneProxy(["--admin-listen", "127.0.0.1:0", "--max-connections", "2"])
        let admin = try adminPort(of: proxy)
        let held = try (0..<2).map { _ in try TestClient(port: admin) }
        for client in held { #expect(try client.request("GET", "/_/status").status == 200) }
        #expect(try request(admin, "GET", "/_/status").status == 503, "past --max-connections on the admin listener")
        let client = try TestClient(port: proxy.port)
        #expect(try client.request("GET", "/_/health").status == 503, "the public port still takes its own connections")
        let started = Date()
        #expect(proxy.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 5, "idle admin connections do not hold up the stop")
    }

    @Test("a bad --admin-listen is refused at start-up with the reason", arguments: [
        (["--listen", "127.0.0.1:18080", "--admin-listen", "127.0.0.1:18080"], 2, "is the --listen address"),
        (["--listen", "127.0.0.1:18080", "--admin-listen", "0.0.0.0:18080"], 2, "overlaps the --listen address"),
        (["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:1"], 2, "is a node's address"),
        (["--listen", "127.0.0.1:0", "--admin-listen", "localhost"], 2, "--admin-listen: 'localhost' is not HOST:PORT"),
    ])
    func refused(arguments: [String], code: Int32, message: String) throws {
        let directory = makeTemporaryDirectory()
        try "127.0.0.1:1\n".write(toFile: directory + "/hosts.txt", atomically: true, encoding: .utf8)
        let result = try runToExit(Binaries.proxy, arguments + ["--hosts", directory + "/hosts.txt", "--replicas", "1"])
        #expect(result.code == code && result.output.contains(message), "\(result.output)")
    }

    @Test("an admin address already in use stops the start, naming --admin-listen")
    func adminPortInUse() throws {
        let (node, _) = try startNode()
        defer { node.stop() }
        let result = try runToExit(Binaries.node, ["--listen", "127.0.0.1:0", "--data", makeTemporaryDirectory(),
                                                   "--admin-listen", "127.0.0.1:\(node.port)"])
        #expect(result.code == 1 && result.output.contains("--admin-listen 127.0.0.1:\(node.port)"), "\(result.output)")
    }
}

/// Two network namespaces joined by a veth pair: "server" at 10.77.0.1, "client" at 10.77.0.2.
final class TwoHosts {
    /// Root, `ip`, and a kernel that lets this process make a network namespace (a container may not).
    static let isPossible: Bool = {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: ip) else { return false }
        let probe = "lr-admin-probe-\(getpid())"
        guard (try? runToExit(ip, ["netns", "add", probe]))?.code == 0 else { return false }
        _ = try? runToExit(ip, ["netns", "delete", probe])
        return true
    }()
    static let ip = "/usr/sbin/ip"
    static let serverAddress = "10.77.0.1"
    let server: String
    let client: String

    init() throws {
        let suffix = "\(getpid())-\(UInt32.random(in: 0..<1_000_000))"
        server = "lr-admin-s-\(suffix)"
        client = "lr-admin-c-\(suffix)"
        for command in [["netns", "add", server], ["netns", "add", client],
                        ["-n", server, "link", "set", "lo", "up"], ["-n", client, "link", "set", "lo", "up"],
                        ["-n", server, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", client],
                        ["-n", server, "addr", "add", Self.serverAddress + "/24", "dev", "va"], ["-n", server, "link", "set", "va", "up"],
                        ["-n", client, "addr", "add", "10.77.0.2/24", "dev", "vb"], ["-n", client, "link", "set", "vb", "up"]] {
            let result = try runToExit(Self.ip, command)
            guard result.code == 0 else {
                remove()
                throw HarnessError("ip \(command.joined(separator: " ")): \(result.output)")
            }
        }
    }

    /// A proxy in the server namespace, listening on its address.
    func startProxy(_ extra: [String]) throws -> ServerProcess {
        try startLoneProxy(extra, launcher: [Self.ip, "netns", "exec", server], listen: "\(Self.serverAddress):0")
    }

    /// A lone node in the server namespace, listening on its address.
    func startNode(_ extra: [String]) throws -> ServerProcess {
        try ServerProcess.start(Self.ip, ["netns", "exec", server, Binaries.node, "--listen", "\(Self.serverAddress):0",
                                          "--data", makeTemporaryDirectory()] + extra)
    }

    /// GET `target` of the server on `port`, with curl from `namespace`.
    func get(from namespace: String, port: Int, _ target: String) throws -> (status: Int, body: String) {
        try curl(from: namespace, "http://\(Self.serverAddress):\(port)\(target)")
    }

    /// One GET with curl from `namespace`: the status and the body.
    private func curl(from namespace: String, _ url: String) throws -> (status: Int, body: String) {
        let result = try runToExit(Self.ip, ["netns", "exec", namespace, "curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", url])
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n").trimmingCharacters(in: .newlines))
    }

    func remove() {
        for namespace in [server, client] { _ = try? runToExit(Self.ip, ["netns", "delete", namespace]) }
    }
}

@Suite("Operator routes from another host (network namespaces)", .enabled(if: TwoHosts.isPossible), .serialized)
struct AdminListenerOtherHostTests {
    @Test("by default another host gets 403 for the proxy's operator routes and a node's short /_/health; this host gets them all")
    func refusedFromAnotherHost() throws {
        let hosts = try TwoHosts()
        defer { hosts.remove() }
        let proxy = try hosts.startProxy([])
        defer { proxy.stop() }
        let node = try hosts.startNode([])
        defer { node.stop() }
        for target in AdminListenerTests.operatorTargets {
            let refused = try hosts.get(from: hosts.client, port: proxy.port, target)
            #expect(refused.status == 403 && refused.body.contains("only to connections from this host"), "\(target): \(refused)")
            #expect(!refused.body.contains("127.0.0.1:1"))
        }
        let health = try hosts.get(from: hosts.client, port: proxy.port, "/_/health")
        #expect(health.status == 503 && health.body.contains("\"nodesUp\":0"))
        let nodeHealth = try hosts.get(from: hosts.client, port: node.port, "/_/health")
        #expect(nodeHealth.status == 200 && isPingDocument(nodeHealth.body), "\(nodeHealth.body)")
        // From the server's own host, to its own (non-loopback) address: this host.
        let local = try hosts.get(from: hosts.server, port: proxy.port, "/_/status?key=gh")
        #expect(local.status == 200 && local.body.contains("\"replicas\":[\"127.0.0.1:1\"]"))
        #expect(try hosts.get(from: hosts.server, port: node.port, "/_/health").body.contains("\"keys\":0"))
    }

    @Test("--admin-on-public: another host reads them on the public port")
    func openWithAdminOnPublic() throws {
        let hosts = try TwoHosts()
        defer { hosts.remove() }
        let proxy = try hosts.startProxy(["--admin-on-public"])
        defer { proxy.stop() }
        let node = try hosts.startNode(["--admin-on-public"])
        defer { node.stop() }
        let status = try hosts.get(from: hosts.client, port: proxy.port, "/_/status?key=gh")
        #expect(status.status == 200 && status.body.contains("\"replicas\":[\"127.0.0.1:1\"]"))
        #expect(try hosts.get(from: hosts.client, port: proxy.port, "/_/metrics").status == 200)
        #expect(try hosts.get(from: hosts.client, port: node.port, "/_/health").body.contains("\"keys\":0"))
    }

    @Test("--admin-listen on the server's address: another host reads them there, and gets 403 on the public port")
    func adminAddressForAnotherHost() throws {
        let hosts = try TwoHosts()
        defer { hosts.remove() }
        let proxy = try hosts.startProxy(["--admin-listen", "\(TwoHosts.serverAddress):0"])
        defer { proxy.stop() }
        #expect(try hosts.get(from: hosts.client, port: adminPort(of: proxy), "/_/metrics").status == 200)
        #expect(try hosts.get(from: hosts.client, port: proxy.port, "/_/metrics").status == 403)
        #expect(try hosts.get(from: hosts.server, port: proxy.port, "/_/metrics").status == 403,
                "with an admin address, not even this host reads them on the public port")
    }
}
