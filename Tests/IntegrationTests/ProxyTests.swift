// The proxy against a real 4-node cluster: placement on exactly two replicas, writes with a
// replica down, reads that never fail while a primary is killed, 503 with both replicas down,
// a restarted node marked up again, the operator routes, and start-up errors.

import Foundation
import Testing

@Suite("Proxy (real cluster)")
struct ProxyTests {
    @Test("PUT then GET through the proxy; the key is held by exactly its two replicas")
    func placement() throws {
        let cluster = try TestCluster()
        let client = try TestClient(port: cluster.proxy.port)
        #expect(try client.request("PUT", "/?short=abc&long=http://x.com/?a=1&b=2").status == 200)
        let get = try client.request("GET", "/abc")
        #expect(get.status == 307 && get.headers["location"] == "http://x.com/?a=1&b=2")
        #expect(try client.request("HEAD", "/abc").status == 307)
        let replicas = try cluster.replicas(of: "abc")
        #expect(replicas.count == 2)
        // A replica found late (past the proxy's late limit on a loaded machine) gets the write
        // moments after the 200: its copy is waited for, briefly; a node outside must never hold it.
        let holders = { try (0..<4).filter { try request(cluster.ports[$0], "GET", "/_/kv?short=abc").status == 200 } }
        var held: [Int] = []
        _ = try cluster.waitFor(timeoutMs: 5_000) {
            held = try holders()
            return held == replicas.sorted()
        }
        #expect(held == replicas.sorted(), "abc is held by nodes \(held), its replicas are \(replicas)")
        #expect(try client.request("DELETE", "/abc").status == 200)
        #expect(try client.request("GET", "/abc").status == 404)
        #expect(try client.request("DELETE", "/abc").status == 404)
        #expect(try client.request("PUT", "/?short=bad%20name&long=http://x").status == 400)
        #expect(try client.request("POST", "/abc").status == 405)
    }

    @Test("a loop of GETs while the primary is killed with kill -9 has zero failed requests")
    func failoverRead() throws {
        let cluster = try TestCluster()
        let client = try TestClient(port: cluster.proxy.port)
        for index in 0..<20 { #expect(try client.request("PUT", "/?short=f\(index)&long=http://f/\(index)").status == 200) }
        let primary = try #require(try cluster.replicas(of: "f0").first)
        var failures = 0
        for round in 0..<400 {
            if round == 100 { cluster.kill9(primary) }
            let key = round % 20
            let answer = try client.request("GET", "/f\(key)")
            if answer.status != 307 || answer.headers["location"] != "http://f/\(key)" { failures += 1 }
        }
        #expect(failures == 0)
        #expect(try cluster.waitFor { try cluster.proxyState(of: primary) == "down" })
    }

    @Test("PUT with one replica down answers 200; with both down, GET and PUT get the 503 page; a restarted node is up again")
    func replicasDown() throws {
        let cluster = try TestCluster()
        let replicas = try cluster.replicas(of: "k")
        cluster.kill9(replicas[0])
        #expect(try request(cluster.proxy.port, "PUT", "/?short=k&long=http://one-down").status == 200)
        #expect(try request(cluster.proxy.port, "GET", "/k").headers["location"] == "http://one-down")
        cluster.kill9(replicas[1])
        let get = try request(cluster.proxy.port, "GET", "/k")
        #expect(get.status == 503 && get.body.contains("Could not perform the GET"))
        let put = try request(cluster.proxy.port, "PUT", "/?short=k&long=http://none")
        #expect(put.status == 503 && put.body.contains("Could not perform the PUT"))
        #expect(try cluster.waitFor { try request(cluster.proxy.port, "GET", "/_/health").status == 503 })
        try cluster.startNode(replicas[1])
        #expect(try cluster.waitFor { try cluster.proxyState(of: replicas[1]) == "up" })
        #expect(try request(cluster.proxy.port, "GET", "/k").headers["location"] == "http://one-down")
        #expect(try cluster.waitFor { try request(cluster.proxy.port, "GET", "/_/health").status == 200 })
    }

    @Test("/_/ paths are answered by the proxy and never forwarded; status, health and metrics")
    func operatorRoutes() throws {
        let cluster = try TestCluster()
        _ = try request(cluster.proxy.port, "PUT", "/?short=m&long=http://m")
        #expect(try request(cluster.proxy.port, "GET", "/_/kv?short=m").status == 404)
        #expect(try request(cluster.proxy.port, "PUT", "/_/kv?v=99&short=m").status == 404)
        #expect(try cluster.waitFor { try request(cluster.proxy.port, "GET", "/_/health").status == 200 })
        let health = try request(cluster.proxy.port, "GET", "/_/health")
        #expect(health.body.contains("\"rangesWithoutReplica\":0"))
        let status = try request(cluster.proxy.port, "GET", "/_/status")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
        #expect((json["nodes"] as? [Any])?.count == 4 && (json["ring"] as? [String: Any])?["vnodesPerNode"] as? Int == 64)
        #expect(try request(cluster.proxy.port, "GET", "/_/status?key=bad%20key").status == 400)
        let metrics = try request(cluster.proxy.port, "GET", "/_/metrics")
        #expect(metrics.status == 200 && metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        for family in ["linkring_proxy_requests_total{method=\"PUT\",status=\"200\"} 1", "linkring_proxy_request_duration_seconds_bucket",
                       "linkring_proxy_failovers_total", "linkring_node_up{node=", "linkring_node_pool_connections"] {
            #expect(metrics.body.contains(family), "\(family)")
        }
    }

    @Test("two proxies: a write acknowledged later always wins, whichever proxy minted the lower version")
    func twoProxiesOrderWrites() throws {
        // Fast writes (no fdatasync) put both writes of a round in the same millisecond often;
        // the later writer has the lower proxy id, so without the node's 409 its version would
        // be the lower one and its acknowledged write would lose.
        let cluster = try TestCluster(nodeArguments: ["--fsync", "never"], proxyArguments: ["--proxy-id", "2"])
        let second = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", cluster.hostsPath,
                                                               "--proxy-id", "1", "--status-interval-s", "0"])
        defer { second.stop() }
        let first = try TestClient(port: cluster.proxy.port)
        let other = try TestClient(port: second.port)
        var older = 0, checkedAtOnce = 0
        for round in 0..<1_000 {
            #expect(try first.request("PUT", "/?short=race&long=http://a/\(round)").status == 200)
            let leftBehindBefore = try Self.writesLeavingAReplicaBehind(second.port)
            #expect(try other.request("PUT", "/?short=race&long=http://b/\(round)").status == 200)
            let readsLatest = { try first.request("GET", "/race").headers["location"] == "http://b/\(round)" }
            // A write answered without a replica (found late on a loaded CI runner, or failed) may
            // be read through the *other* proxy from that replica before it applies it: read
            // floors are one proxy's memory (DECISIONS "Read floors"). It must still win, moments later.
            if try Self.writesLeavingAReplicaBehind(second.port) > leftBehindBefore {
                if try !waitFor(timeoutMs: 10_000, readsLatest) { older += 1 }
            } else {
                checkedAtOnce += 1
                if try !readsLatest() { older += 1 }
            }
        }
        #expect(older == 0, "\(older) of 1000 reads returned the write acknowledged earlier")
        #expect(checkedAtOnce >= 900, "only \(checkedAtOnce) of 1000 rounds were read right after the write")
        let metrics = try request(second.port, "GET", "/_/metrics").body
        #expect(metrics.contains("linkring_proxy_version_conflicts_total"))
    }

    /// Writes the proxy at `port` answered before every replica had applied them.
    private static func writesLeavingAReplicaBehind(_ port: Int) throws -> Int {
        try metricSum(port, "linkring_proxy_writes_without_late_replicas_total") + metricSum(port, "linkring_proxy_partial_writes_total")
    }

    @Test("a proxy whose nodes were never reached is not healthy, from its first moment")
    func healthNeedsAnsweredPings() throws {
        let directory = makeTemporaryDirectory()
        let hosts = directory + "/hosts.txt"
        try freePorts(2).map { "127.0.0.1:\($0)\n" }.joined().write(toFile: hosts, atomically: true, encoding: .utf8)
        let proxy = try ServerProcess.start(Binaries.proxy, ["--listen", "127.0.0.1:0", "--hosts", hosts, "--status-interval-s", "0"])
        defer { proxy.stop() }
        let first = try request(proxy.port, "GET", "/_/health")
        #expect(first.status == 503 && first.body.contains("\"nodesUp\":0"))
        usleep(600_000)
        #expect(try request(proxy.port, "GET", "/_/health").status == 503)
        #expect(try request(proxy.port, "GET", "/k").status == 503, "no replica can answer")
    }

    @Test("with a cluster token the proxy's writes pass; nodes refuse internal writes without it")
    func clusterToken() throws {
        let cluster = try TestCluster(nodeArguments: ["--cluster-token", "t0k"], proxyArguments: ["--cluster-token", "t0k"])
        #expect(try request(cluster.proxy.port, "PUT", "/?short=t&long=http://t").status == 200)
        #expect(try request(cluster.proxy.port, "GET", "/t").status == 307)
        #expect(try put(cluster.ports[0], "/_/kv?v=5&short=t", body: "http://evil").status == 401)
        #expect(try request(cluster.proxy.port, "GET", "/t").headers["location"] == "http://t")
    }

    @Test("start-up errors: missing, empty or duplicate hosts file, more replicas than nodes, a node not in the file")
    func startupErrors() throws {
        let directory = makeTemporaryDirectory()
        let empty = directory + "/empty.txt"
        let duplicate = directory + "/duplicate.txt"
        let two = directory + "/two.txt"
        try "# nothing\n".write(toFile: empty, atomically: true, encoding: .utf8)
        try "127.0.0.1:9001\n127.0.0.1:9001\n".write(toFile: duplicate, atomically: true, encoding: .utf8)
        try "127.0.0.1:9001\n127.0.0.1:9002\n".write(toFile: two, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--hosts", directory + "/missing.txt"], "missing.txt"),
            (["--hosts", empty], "lists no node"),
            (["--hosts", duplicate], "listed twice"),
            (["--hosts", two, "--replicas", "3"], "more than the 2 node"),
        ]
        for (arguments, message) in cases {
            let result = try runToExit(Binaries.proxy, ["--listen", "127.0.0.1:0"] + arguments)
            #expect(result.code == 2 && result.output.contains(message), "\(arguments): \(result.output)")
        }
        let node = try runToExit(Binaries.node, ["--listen", "127.0.0.1:9009", "--data", directory + "/d", "--hosts", two])
        #expect(node.code == 2 && node.output.contains("is not listed in"))
        let help = try runToExit(Binaries.proxy, ["--help"])
        #expect(help.code == 0 && help.output.contains("--replicas") && help.output.contains("--ping-interval-ms"))
    }
}
