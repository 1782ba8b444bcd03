// Host names in the hosts file, against the real binaries (issue 19, findings 3 and 4):
//
//   - one node under two names (127.0.0.1:P and localhost:P) is refused at start-up by the
//     proxy and by the node, naming both lines, and on a SIGHUP reload (the old ring kept);
//   - one node under two addresses (127.0.0.1:P and 127.0.0.2:P, a node listening on 0.0.0.0)
//     is found by the node id it reports: the proxy refuses the later line, the node does not
//     take itself for its own peer;
//   - a name whose resolver never answers (a UDP socket that reads nothing, named in a
//     resolv.conf bind-mounted for the proxy alone, in its own mount namespace) takes only
//     its node down, says so in the log, and every other key stays fast: no 503, each read
//     well under the node time-out. Needs root (mount namespace, port 53 on 127.0.0.153).

import Foundation
import Glibc
import Testing

@Suite("Host names: resolution off the loop, aliases refused", .serialized)
struct HostNamesTests {
    @Test("127.0.0.1:P and localhost:P in one file: the proxy and the node refuse to start, naming both lines")
    func aliasRefusedAtStartUp() throws {
        let ports = try freePorts(2)
        let directory = makeTemporaryDirectory()
        let hosts = directory + "/hosts.txt"
        try "# one node twice\n127.0.0.1:\(ports[0])\n127.0.0.1:\(ports[1])\nlocalhost:\(ports[0])\n"
            .write(toFile: hosts, atomically: true, encoding: .utf8)
        let expected = "line 2 (127.0.0.1:\(ports[0])) and line 4 (localhost:\(ports[0])) are one node"
        let proxy = try runToExit(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", hosts])
        #expect(proxy.code == 1 && proxy.output.contains(expected), "\(proxy.output)")
        let node = try runToExit(Binaries.node, ["--listen", "127.0.0.1:\(ports[0])", "--data", directory + "/node", "--hosts", hosts])
        #expect(node.code == 1 && node.output.contains(expected), "\(node.output)")
    }

    @Test("a SIGHUP reload that lists a node twice under two names is refused, naming both lines; the old ring stays")
    func aliasRefusedOnReload() throws {
        let cluster = try TestCluster(nodeCount: 2)
        let ring = { try request(cluster.proxy.port, "GET", "/_/status").body }
        #expect(try ring().contains("\"nodes\":2,"))
        let text = "generation 1\n" + cluster.ports.map { "127.0.0.1:\($0)\n" }.joined() + "localhost:\(cluster.ports[1])\n"
        try text.write(toFile: cluster.hostsPath, atomically: true, encoding: .utf8)
        kill(cluster.proxy.pid, SIGHUP)
        let expected = "keeping the current ring: \(cluster.hostsPath) line 3 (127.0.0.1:\(cluster.ports[1])) and line 4 "
            + "(localhost:\(cluster.ports[1])) are one node"
        #expect(cluster.waitFor { cluster.proxy.errors.contains(expected) }, "\(cluster.proxy.errors.suffix(600))")
        #expect(try ring().contains("\"nodes\":2,") && !(try ring().contains("localhost")))
        #expect(try request(cluster.proxy.port, "PUT", "/?short=r1&long=http://r1").status == 200)
    }

    @Test("one node under two addresses: the proxy refuses the later line by the node id both answer with; the node skips itself")
    func aliasFoundByNodeID() throws {
        let ports = try freePorts(2)
        let directory = makeTemporaryDirectory()
        let hosts = directory + "/hosts.txt"
        try "127.0.0.1:\(ports[0])\n127.0.0.1:\(ports[1])\n127.0.0.2:\(ports[0])\n".write(toFile: hosts, atomically: true, encoding: .utf8)
        let wide = try ServerProcess.start(Binaries.node, ["--listen", "0.0.0.0:\(ports[0])", "--self", "127.0.0.1:\(ports[0])",
                                                           "--data", directory + "/wide", "--hosts", hosts, "--sync-interval-ms", "100"])
        defer { wide.stop() }
        let other = try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:\(ports[1])", "--data", directory + "/other",
                                                            "--hosts", hosts, "--sync-interval-ms", "100"])
        defer { other.stop() }
        let proxy = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", hosts, "--ping-interval-ms", "50",
                                                             "--status-interval-s", "0"])
        defer { proxy.stop() }
        let expected = "line 1 (127.0.0.1:\(ports[0])) and line 3 (127.0.0.2:\(ports[0])) are one node (both answer as node "
        #expect(TestClusterWait.until { proxy.errors.contains(expected) }, "\(proxy.errors.suffix(800))")
        let status = try request(proxy.port, "GET", "/_/status").body
        #expect(status.contains("\"address\":\"127.0.0.2:\(ports[0])\",\"state\":\"refused\""), "\(status)")
        #expect(status.contains("\"address\":\"127.0.0.1:\(ports[0])\",\"state\":\"up\""), "\(status)")
        #expect(TestClusterWait.until { wide.errors.contains("line 3 (127.0.0.2:\(ports[0])) is this node itself") }, "\(wide.errors)")
        #expect(TestClusterWait.until { (try? request(ports[0], "GET", "/_/health").body.contains("\"peers\":1,")) == true },
                "the node counts one peer, not itself")
        #expect(!wide.errors.contains("repair with 127.0.0.2"), "the node never syncs with itself")
    }

    @Test("a name whose resolver never answers takes only its node down, with a log line; other keys stay fast (no 503)")
    func silentResolver() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            Issue.record("needs root and unshare: a mount namespace for the proxy's resolv.conf, port 53 for the silent resolver")
            return
        }
        let sink = try SilentResolver(address: "127.0.0.153")
        defer { sink.close() }
        let directory = makeTemporaryDirectory()
        let resolvConf = directory + "/resolv.conf"
        try "nameserver 127.0.0.153\noptions timeout:30 attempts:2\n".write(toFile: resolvConf, atomically: true, encoding: .utf8)
        let ports = try freePorts(4)
        let hosts = directory + "/hosts.txt"
        try (ports.prefix(3).map { "127.0.0.1:\($0)\n" }.joined() + "dns-down.example:\(ports[3])\n")
            .write(toFile: hosts, atomically: true, encoding: .utf8)
        let nodes = try ports.prefix(3).enumerated().map { index, port in
            try ServerProcess.start(Binaries.node, ["--listen", "127.0.0.1:\(port)", "--data", "\(directory)/node\(index)", "--hosts", hosts])
        }
        defer { for node in nodes { node.stop() } }
        let started = Date()
        let proxyCommand = "mount --bind \(resolvConf) /etc/resolv.conf && exec \(Binaries.proxy) --listen 127.0.0.1:0 --hosts \(hosts) "
            + "--ping-interval-ms 100 --status-interval-s 0"
        let proxy = try ServerProcess.start("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", proxyCommand])
        defer { proxy.stop() }
        #expect(Date().timeIntervalSince(started) < 4, "the start waits for names at most 2 s")
        #expect(TestClusterWait.until { proxy.errors.contains("name dns-down.example does not resolve") }, "\(proxy.errors)")
        let slowest = try timedRequests(proxy: proxy.port, keys: 60)
        #expect(slowest.failures.isEmpty, "\(slowest.failures)")
        #expect(slowest.readMs < 500, "the slowest read took \(slowest.readMs) ms (node time-out 2000 ms)")
        let status = try request(proxy.port, "GET", "/_/status").body
        #expect(status.contains("\"address\":\"dns-down.example:\(ports[3])\",\"state\":\"down\""), "\(status)")
        for port in ports.prefix(3) { #expect(status.contains("\"address\":\"127.0.0.1:\(port)\",\"state\":\"up\""), "\(status)") }
        #expect(proxy.stop() == 0, "SIGTERM ends the proxy (status 0) though a lookup is still in the resolver: \(proxy.errors.suffix(1500))")
    }

    /// PUTs then GETs `keys` keys through the proxy, each on a fresh connection with a 3 s
    /// time-out; returns the non-success answers and the slowest read in milliseconds.
    private func timedRequests(proxy: Int, keys: Int) throws -> (failures: [String], readMs: Int) {
        var failures: [String] = []
        var slowestRead = 0
        for number in 0..<keys {
            let put = try TestClient(port: proxy).request("PUT", "/?short=d\(number)&long=http://d/\(number)", timeoutMs: 3_000)
            if put.status != 200 { failures.append("PUT d\(number): \(put.status)") }
        }
        for number in 0..<keys {
            let began = Date()
            let get = try TestClient(port: proxy).request("GET", "/d\(number)", timeoutMs: 3_000)
            slowestRead = max(slowestRead, Int(Date().timeIntervalSince(began) * 1000))
            if get.status != 307 { failures.append("GET d\(number): \(get.status)") }
        }
        return (failures, slowestRead)
    }
}

/// A name server that never answers: a UDP socket on port 53 that nobody reads (queries wait in
/// its buffer; none is ever answered).
final class SilentResolver {
    private let socket: Int32

    init(address: String) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let status = withIPv4Address(address, 53) { bind(socket, $0, $1) }
        guard status == 0 else {
            Glibc.close(socket)
            throw HarnessError("cannot bind \(address):53 for the silent resolver: errno \(errno)")
        }
    }

    func close() { Glibc.close(socket) }
}
