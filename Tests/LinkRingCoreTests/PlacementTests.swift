// Placement on the hash ring (pinned by known answers), its balance and its movement when a
// node joins; the hosts file; node health transitions on an injected clock; proxy options.

import Testing
@testable import LinkRingCore

let fourNodes = (1...4).map { HostPort(host: "127.0.0.1", port: 9000 + $0) }

@Suite("Hash ring")
struct HashRingTests {
    @Test("the stable hash and placement are pinned by known answers")
    func knownAnswers() {
        #expect(StableHash.hash(bytes("abc")) == 0x33EB_AF99_27CB_C5BD)
        #expect(StableHash.mix(0) == 0 && StableHash.mix(1) == 0xB456_BCFC_34C2_CB2C)
        let ring = HashRing(nodes: fourNodes, vnodesPerNode: 64, replicas: 2)
        let placements = ["abc", "gh", "key-1", "key-2", "x"].map { Array(ring.replicas(forKey: bytes($0))) }
        #expect(placements == [[0, 1], [3, 1], [1, 0], [1, 2], [3, 0]], "computed by Tests/reference/ring_reference.py")
    }

    @Test("100k keys over 4 nodes with 64 virtual nodes land within ±10% of even, as primary and as replica")
    func balance() {
        let ring = HashRing(nodes: fourNodes, vnodesPerNode: 64, replicas: 2)
        var primary = [Int](repeating: 0, count: 4)
        var held = [Int](repeating: 0, count: 4)
        for index in 0..<100_000 {
            let replicas = ring.replicas(forKey: bytes("key-\(index)"))
            primary[replicas.first!] += 1
            for node in replicas { held[node] += 1 }
        }
        for node in 0..<4 {
            #expect(abs(primary[node] - 25_000) <= 2_500, "primary share of node \(node): \(primary[node])")
            #expect(abs(held[node] - 50_000) <= 5_000, "replica share of node \(node): \(held[node])")
        }
    }

    @Test("replicas are distinct, primary first, and every process derives the same ring")
    func distinctAndDeterministic() {
        let a = HashRing(nodes: fourNodes, vnodesPerNode: 64, replicas: 3)
        let b = HashRing(nodes: fourNodes, vnodesPerNode: 64, replicas: 3)
        #expect(a.points == b.points)
        for range in 0..<a.rangeCount {
            let replicas = Array(a.replicas(ofRange: range))
            #expect(Set(replicas).count == 3 && replicas == Array(b.replicas(ofRange: range)))
        }
    }

    @Test("the slice table finds the same successor point as a binary search", arguments: [(1, 1), (4, 64), (5, 64), (3, 1), (300, 1000)])
    func successorTable(nodes count: Int, vnodes: Int) {
        let nodes = (0..<count).map { HostPort(host: "10.0.\($0 / 250).\($0 % 250)", port: 9000) }
        let ring = HashRing(nodes: nodes, vnodesPerNode: vnodes, replicas: 1)
        var hashes: [UInt64] = [0, 1, UInt64.max, UInt64.max - 1, 1 << 63]
        for point in ring.points { hashes += [point, point &- 1, point &+ 1] }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { hashes.append(random.next()) }
        for hash in hashes where ring.successor(of: hash) != ring.successorBySearch(of: hash) {
            Issue.record("successor of \(hash): table \(ring.successor(of: hash)), search \(ring.successorBySearch(of: hash))")
            return
        }
    }

    @Test("adding a fifth node moves about 1/5 of the keys, and only to the new node")
    func addingANode() {
        let before = HashRing(nodes: fourNodes, vnodesPerNode: 64, replicas: 1)
        let after = HashRing(nodes: fourNodes + [HostPort(host: "127.0.0.1", port: 9005)], vnodesPerNode: 64, replicas: 1)
        var moved = 0
        for index in 0..<100_000 {
            let key = bytes("key-\(index)")
            let old = before.replicas(forKey: key).first!
            let new = after.replicas(forKey: key).first!
            if old != new {
                moved += 1
                #expect(new == 4, "a moved key must move to the new node")
            }
        }
        #expect(moved >= 16_000 && moved <= 24_000, "moved \(moved) of 100000")
    }
}

@Suite("Hosts file and proxy options")
struct ClusterConfigTests {
    @Test("comments, blank lines and spaces are ignored")
    func parses() throws {
        let hosts = try HostsFile.parse("# cluster\n127.0.0.1:9001\n\n  127.0.0.1:9002  # second\n[::1]:9003\n")
        #expect(hosts == [HostPort(host: "127.0.0.1", port: 9001), HostPort(host: "127.0.0.1", port: 9002), HostPort(host: "::1", port: 9003)])
    }

    @Test("empty, malformed and duplicate entries are refused, naming the line", arguments: [
        ("", "lists no node"), ("# only a comment\n", "lists no node"), ("127.0.0.1:9001\nnot-an-address\n", "line 2"),
        ("127.0.0.1:9001\n127.0.0.1:9001\n", "listed twice"), ("127.0.0.1:0\n", "port 0"), ("h:99999", "line 1"),
    ])
    func refused(text: String, message: String) {
        do {
            _ = try HostsFile.parse(text)
            Issue.record("\(text.debugDescription) should be refused")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    func proxy(_ arguments: [String], hosts: String = "127.0.0.1:9001\n127.0.0.1:9002\n127.0.0.1:9003\n") throws -> ProxyOptions? {
        try ProxyOptions.parse(arguments) { path in
            guard path == "hosts.txt" else { throw CommandLineError("cannot read \(path)") }
            return hosts
        }
    }

    @Test("proxy options parse; more replicas than nodes, a missing file and bad numbers are refused")
    func proxyOptions() throws {
        let options = try #require(try proxy(["--listen", "127.0.0.1:8080", "--hosts", "hosts.txt", "--replicas", "3",
                                              "--vnodes", "16", "--proxy-id", "7", "--status-interval-s", "0"]))
        #expect(options.nodes.count == 3 && options.replicas == 3 && options.vnodes == 16 && options.proxyID == 7)
        #expect(try proxy(["--help"]) == nil)
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "hosts.txt", "--replicas", "4"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "missing.txt"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "hosts.txt", "--proxy-id", "1024"]) }
        #expect(throws: CommandLineError.self) { try proxy(["--listen", "h:1", "--hosts", "hosts.txt"], hosts: "") }
    }

    @Test("a node with --hosts must find itself in the file")
    func nodeFindsItself() throws {
        let read: (String) throws -> String = { _ in "127.0.0.1:9001\n127.0.0.1:9002\n" }
        let listed = try #require(try NodeOptions.parse(["--listen", "127.0.0.1:9002", "--data", "d", "--hosts", "h"], readFile: read))
        #expect(listed.selfAddress == HostPort(host: "127.0.0.1", port: 9002) && listed.nodes.count == 2)
        let viaSelf = try #require(try NodeOptions.parse(["--listen", "0.0.0.0:9001", "--self", "127.0.0.1:9001", "--data", "d", "--hosts", "h"], readFile: read))
        #expect(viaSelf.selfAddress == HostPort(host: "127.0.0.1", port: 9001))
        #expect(throws: CommandLineError.self) { try NodeOptions.parse(["--listen", "127.0.0.1:9009", "--data", "d", "--hosts", "h"], readFile: read) }
        #expect(throws: CommandLineError.self) { try NodeOptions.parse(["--listen", "127.0.0.1:9001", "--data", "d", "--self", "127.0.0.1:9001"]) }
    }
}

@Suite("Node health")
struct NodeHealthTests {
    @Test("down after N failures in a row, up after one success; a success resets the count")
    func transitions() {
        var health = NodeHealth(failuresToDown: 3, nowMs: 0)
        #expect(health.state == .unknown && health.isUsable)
        let firstUp = health.recordSuccess(nowMs: 10, roundTripMs: 1, readiness: .ready)
        #expect(firstUp && health.state == .up && health.isReady && health.lastRoundTripMs == 1)
        let missOne = health.recordFailure(nowMs: 20)
        let missTwo = health.recordFailure(nowMs: 30)
        #expect(!missOne && !missTwo && health.state == .up)
        health.recordSuccess(nowMs: 40)
        health.recordFailure(nowMs: 50)
        let stillUp = health.recordFailure(nowMs: 60)
        #expect(!stillUp && health.state == .up, "a success resets the count")
        let wentDown = health.recordFailure(nowMs: 70, isPing: true)
        #expect(wentDown && health.state == .down && !health.isUsable && health.downForMs(nowMs: 1_070) == 1_000)
        let backUp = health.recordSuccess(nowMs: 2_000, roundTripMs: 3, readiness: .recovering)
        #expect(backUp && health.state == .up && health.isUsable && !health.isReady)
        let readied = health.recordSuccess(nowMs: 2_100, roundTripMs: 2, readiness: .ready)
        #expect(readied, "a readiness change is reported")
        #expect(health.isReady && health.downForMs(nowMs: 3_000) == nil)
    }
}

@Suite("Metrics text")
struct MetricsTests {
    @Test("the histogram renders cumulative buckets in seconds")
    func histogram() {
        var histogram = LatencyHistogram()
        for microseconds: UInt64 in [50, 300, 300, 2_000_000, 9_000_000] { histogram.record(microseconds: microseconds) }
        var text = ""
        histogram.render(name: "t", into: &text)
        #expect(text.contains("t_bucket{le=\"0.0001\"} 1\n") && text.contains("t_bucket{le=\"0.0005\"} 3\n"))
        #expect(text.contains("t_bucket{le=\"2.5\"} 4\n") && text.contains("t_bucket{le=\"+Inf\"} 5\n"))
        #expect(text.contains("t_sum 11.00065\n") && text.contains("t_count 5\n"))
    }

    @Test("JSON and label escaping")
    func escaping() {
        #expect(JSONText.string("a\"b\\c\n\u{1}") == "\"a\\\"b\\\\c\\n\\u0001\"")
        #expect(PrometheusText.label("a\"b\\") == "a\\\"b\\\\")
    }
}
