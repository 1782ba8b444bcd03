// Placement on the hash ring (pinned by known answers), its balance and its movement when a
// node joins.

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
