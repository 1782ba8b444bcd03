// Consistent-hash placement with virtual nodes.
//
// Each node owns `vnodesPerNode` points on a 64-bit ring at StableHash("host:port#i"). A key
// is looked up with `probesPerKey` probes (multi-probe consistent hashing, Appleton & O'Reilly
// 2015): probe i hashes the key a different way, and the ring point closest clockwise to any
// probe wins. Its replicas are the first `replicas` DISTINCT nodes clockwise from that point
// (the first is the primary). With one probe a node's share of the keys varies by about
// 1/sqrt(vnodes) (12% at 64); with eight it stays within a few percent. Every key belongs to
// exactly one ring point, its "key range", and all keys of a range have the same replicas.
// Adding a node only adds points, which can only win probes: keys move to the new node only,
// about 1/N of them; removing a node moves only that node's keys.
//
// The hash must be the same in every process, machine and release (Swift's Hasher is seeded
// per process): FNV-1a 64 finished with MurmurHash3's fmix64 to spread similar names apart.
// Known-answer tests pin it, so placement can never change silently.
//
//        key ──hash──▶ ●─────────▶ first point ≥ hash ─▶ its replica set (precomputed)
//
// Finding the first point ≥ a hash is on every proxied request (8 probes): a table indexed by
// the hash's top bits gives the first point of that slice of the ring, and a short scan (about
// points/slices steps) finishes, instead of a binary search with a mispredicted branch per step.
// The ring is an immutable class: a struct of four arrays was copied (four retains and four
// releases) wherever a request read it out of the placement.

package final class HashRing: Sendable {
    package let nodes: [HostPort]
    package let vnodesPerNode: Int
    package let replicaCount: Int
    /// Probes per key lookup: more probes, better balance, a little more work per lookup.
    package static let probesPerKey = 8
    /// Sorted ring points.
    package let points: [UInt64]
    /// `replicaCount` node indices per point, flat: point i's replicas are at i*R ..< (i+1)*R.
    private let replicaTable: [Int]
    /// Per slice of the ring (the top `sliceBits` bits of a hash): the first point in or after it.
    private let sliceStart: [Int32]
    private let sliceShift: UInt64

    package init(nodes: [HostPort], vnodesPerNode: Int, replicas: Int) {
        precondition(!nodes.isEmpty && vnodesPerNode > 0 && replicas > 0 && replicas <= nodes.count)
        self.nodes = nodes
        self.vnodesPerNode = vnodesPerNode
        self.replicaCount = replicas
        var placed: [(point: UInt64, node: Int)] = []
        placed.reserveCapacity(nodes.count * vnodesPerNode)
        for (index, node) in nodes.enumerated() {
            for vnode in 0..<vnodesPerNode {
                placed.append((StableHash.hash(Array("\(node)#\(vnode)".utf8)), index))
            }
        }
        // Ties (astronomically rare) break by node index, so every process orders them alike.
        placed.sort { $0.point != $1.point ? $0.point < $1.point : $0.node < $1.node }
        points = placed.map(\.point)
        var table: [Int] = []
        table.reserveCapacity(placed.count * replicas)
        for start in 0..<placed.count {
            var chosen: [Int] = []
            var offset = 0
            while chosen.count < replicas {
                let node = placed[(start + offset) % placed.count].node
                if !chosen.contains(node) { chosen.append(node) }
                offset += 1
            }
            table += chosen
        }
        replicaTable = table
        let sliceBits = Self.sliceBits(forPoints: points.count)
        sliceShift = UInt64(64 - sliceBits)
        sliceStart = Self.sliceTable(points, sliceBits: sliceBits)
    }

    /// About four slices per point, at least 2^8, at most 2^20.
    private static func sliceBits(forPoints count: Int) -> Int {
        var bits = 8
        while bits < 20 && (1 << bits) < 4 * count { bits += 1 }
        return bits
    }

    private static func sliceTable(_ points: [UInt64], sliceBits: Int) -> [Int32] {
        var table = [Int32](repeating: Int32(points.count), count: 1 << sliceBits)
        var point = points.count - 1
        for slice in stride(from: (1 << sliceBits) - 1, through: 0, by: -1) {
            let sliceFirstHash = UInt64(slice) << UInt64(64 - sliceBits)
            while point >= 0 && points[point] >= sliceFirstHash {
                table[slice] = Int32(point)
                point -= 1
            }
            if slice < (1 << sliceBits) - 1 && table[slice] == Int32(points.count) { table[slice] = table[slice + 1] }
        }
        return table
    }

    /// The index of the key range (ring point) that holds `key`.
    func rangeIndex(forKey key: [UInt8]) -> Int {
        rangeIndex(forHash: StableHash.hash(key))
    }

    /// The index of the key range that holds a key whose StableHash is `hash` (the node's
    /// index keeps hashes, not keys).
    package func rangeIndex(forHash hash: UInt64) -> Int {
        var best = 0
        var bestDistance = UInt64.max
        for probe in 0..<UInt64(Self.probesPerKey) {
            let probeHash = probe == 0 ? hash : StableHash.mix(hash ^ (probe &* 0x9E37_79B9_7F4A_7C15))
            let point = successor(of: probeHash)
            let distance = points[point] &- probeHash
            if distance < bestDistance {
                bestDistance = distance
                best = point
            }
        }
        return best
    }

    /// For a ring that only lost points against `old` (a node removed): per point of `old`,
    /// the index of the same point here, or -1 where it is gone; nil if this ring has a point
    /// `old` lacks, or either has two equal points. A key whose best point survives keeps it:
    /// removing points only moves the other probes' successors farther away.
    package func carriedRanges(from old: HashRing) -> [Int32]? {
        guard Self.isStrictlySorted(points), Self.isStrictlySorted(old.points) else { return nil }
        var carried = [Int32](repeating: -1, count: old.points.count)
        var here = 0
        for (index, point) in old.points.enumerated() {
            if here < points.count && points[here] < point { return nil }
            if here < points.count && points[here] == point {
                carried[index] = Int32(here)
                here += 1
            }
        }
        return here == points.count ? carried : nil
    }

    private static func isStrictlySorted(_ points: [UInt64]) -> Bool {
        zip(points, points.dropFirst()).allSatisfy { $0 < $1 }
    }

    /// The index of the first ring point at or after `hash`, wrapping around.
    func successor(of hash: UInt64) -> Int {
        var point = Int(sliceStart[Int(hash >> sliceShift)])
        while point < points.count && points[point] < hash { point += 1 }
        return point == points.count ? 0 : point
    }

    /// The same answer by binary search (the definition `successor` is tested against).
    func successorBySearch(of hash: UInt64) -> Int {
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return low == points.count ? 0 : low
    }

    /// The replicas (node indices, primary first) of a key range.
    package func replicas(ofRange range: Int) -> ArraySlice<Int> {
        replicaTable[range * replicaCount..<(range + 1) * replicaCount]
    }

    package func replicas(forKey key: [UInt8]) -> ArraySlice<Int> {
        replicas(ofRange: rangeIndex(forKey: key))
    }

    /// The replicas of a key whose StableHash is `hash`.
    package func replicas(forHash hash: UInt64) -> ArraySlice<Int> {
        replicas(ofRange: rangeIndex(forHash: hash))
    }

    /// The number of key ranges (ring points).
    package var rangeCount: Int { points.count }
}
