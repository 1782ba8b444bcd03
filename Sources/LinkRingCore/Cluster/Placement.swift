// Where keys live while a membership change moves data (Membership.swift).
//
// `Placement` is the proxy's: one ring per membership, the current one first, over one list of
// nodes (the current membership's in file order, then the nodes only older ones list), so a
// replica is one index into that list whatever ring named it. Not moving, a key's replicas are
// the current ring's (the hot path, unchanged); moving, a write goes to the replicas of every
// ring. A read of a key that moves asks a keeper (a replica in every membership: it has held
// the key throughout and every writer sends to it) as a read asks one replica when nothing
// moves; without a ready keeper, or when the keeper fails, is late, is behind or recovering,
// it asks them all and keeps the newest answer: a key is found wherever it is, and no replica
// that has not caught up can answer for it alone.
//
// A Placement is immutable and a class: the proxy reads it from its cluster several times per
// request, and a struct of rings was copied at each read (a retain and release of every array
// it holds; 1.5 % of the proxy's samples under PUTs).
//
// `HandoffRule` is a node's: which of a key's current replicas this node must hand the key
// to. A key whose replicas are the same in every membership, this node among them, stays put;
// any other key the node holds goes to every current replica but itself. Handing a key to a
// replica that already has it costs that replica a lookup (the Store keeps the newer of two
// versions), so the rule errs on the side of sending: a replica that was old and new but
// missed a write (it was down) still gets it from whichever node held it.

package final class Placement: Sendable {
    package let memberships: MovingMemberships
    /// Every node of every ring: the current membership's first, in file order.
    package let nodes: [HostPort]
    package let current: HashRing
    /// Rings of the memberships still moving, newest first, each with its node indices mapped
    /// into `nodes`.
    private let older: [(ring: HashRing, nodeIndex: [Int])]

    package init(_ memberships: MovingMemberships, vnodesPerNode: Int, replicas: Int) {
        self.memberships = memberships
        nodes = memberships.allNodes
        current = HashRing(nodes: memberships.current.nodes, vnodesPerNode: vnodesPerNode, replicas: replicas)
        let nodes = self.nodes
        older = memberships.previous.map { membership in
            let ring = HashRing(nodes: membership.nodes, vnodesPerNode: vnodesPerNode, replicas: min(replicas, membership.entries.count))
            return (ring, membership.nodes.map { nodes.firstIndex(of: $0)! })
        }
    }

    package var isMoving: Bool { !older.isEmpty }
    package var generation: UInt64 { memberships.current.generation }

    /// The key's replicas in the current membership (indices into `nodes`).
    package func replicas(forKey key: [UInt8]) -> ArraySlice<Int> { current.replicas(forKey: key) }

    /// The replicas a write of `key` goes to: every membership's while data moves, else the
    /// current ones (a read of a key that moved asks the same).
    package func writeReplicas(forKey key: [UInt8]) -> ArraySlice<Int> {
        isMoving ? allReplicas(forKey: key)[...] : replicas(forKey: key)
    }

    /// The key's current replicas that were its replicas in every older membership too: each
    /// has held the key throughout and is sent every write whatever membership its writer
    /// serves (older proxies write the older replicas, finished ones the current), so while
    /// data moves one of them answers a read as a replica does when nothing moves.
    package func keepers(forKey key: [UInt8]) -> [Int] { moving(forKey: key).keepers }

    /// Where a key is while data moves, from one lookup in each ring (a read of a moving key
    /// needs all three).
    package struct MovingReplicas: Sendable {
        /// Every membership's replicas, the current ones first, each node once (`allReplicas`).
        package let all: [Int]
        /// The current replicas that are replicas in every older membership (`keepers`).
        package let keepers: [Int]
        /// The older memberships' replicas: they held the key before the change.
        package let holders: Set<Int>
    }

    package func moving(forKey key: [UInt8]) -> MovingReplicas {
        let hash = StableHash.hash(key)
        let replicas = current.replicas(forHash: hash)
        let before = older.map { ring, nodeIndex in ring.replicas(forHash: hash).map { nodeIndex[$0] } }
        var all = Array(replicas)
        for olderReplicas in before { for replica in olderReplicas where !all.contains(replica) { all.append(replica) } }
        return MovingReplicas(all: all, keepers: replicas.filter { replica in before.allSatisfy { $0.contains(replica) } },
                              holders: Set(before.joined()))
    }

    /// The key's replicas in every membership, the current ones first, each node once.
    package func allReplicas(forKey key: [UInt8]) -> [Int] {
        var all = Array(current.replicas(forKey: key))
        for (ring, nodeIndex) in older {
            for replica in ring.replicas(forKey: key) where !all.contains(nodeIndex[replica]) { all.append(nodeIndex[replica]) }
        }
        return all
    }
}

package struct HandoffRule: Sendable {
    package let current: HashRing
    /// This node's index in `current`, nil when the current membership does not list it.
    package let selfIndex: Int?
    /// Per older ring, its node indices mapped into `current`'s (-1: a node `current` lacks).
    private let older: [(ring: HashRing, currentIndex: [Int])]

    package init(current: HashRing, older olderRings: [HashRing], selfAddress: HostPort) {
        self.current = current
        selfIndex = current.nodes.firstIndex(of: selfAddress)
        older = olderRings.map { ring in (ring, ring.nodes.map { current.nodes.firstIndex(of: $0) ?? -1 }) }
    }

    /// The current replicas (indices into `current.nodes`) this node must hand `key` to: those
    /// that were not already its replicas in every older membership (a replica that kept the
    /// key has it, and a write it missed comes from its new peers by anti-entropy). Without
    /// older memberships (releasing ranges), every replica but this node.
    package func targets(forKey key: [UInt8]) -> [Int] {
        targets(lookUp(StableHash.hash(key), currentRange: nil))
    }

    /// `targets(forKey:)` of a key whose range is `currentRange` in the current ring and
    /// `olderRanges[i]` in the i-th older one (HandoffPlans keeps the answer per range pair).
    package func targets(currentRange: Int, olderRanges: [Int]) -> [Int] {
        targets(rings(currentRange: currentRange, olderRanges: olderRanges))
    }

    private func targets(_ rings: Rings) -> [Int] {
        guard isHandedOff(rings) else { return [] }
        return rings.replicas.filter { $0 != selfIndex && !wasReplicaInEveryOlder($0, rings) }
    }

    /// The older memberships' rings, newest first.
    package var olderRings: [HashRing] { older.map(\.ring) }

    /// Nodes of the older membership that the current one lacks (they leave the cluster), when
    /// one older membership moves; none with more (what each leaving node holds is less certain).
    package var leavingNodes: [HostPort] {
        guard older.count == 1 else { return [] }
        return older[0].ring.nodes.indices.filter { older[0].currentIndex[$0] < 0 }.map { older[0].ring.nodes[$0] }
    }

    /// What the handoff's scan does with a key, by its StableHash (the index's fingerprint) and,
    /// when the index is partitioned by the current ring, the entry's range there (one ring
    /// lookup saved: the scan asks this of every entry, at every node at once, at the change):
    /// nothing (it stays, or goes nowhere from here), send it, or leave it to a leaving node.
    package enum ScanPlan: Equatable {
        case stays
        case sends
        /// This node keeps the key (its replica in the current and the older membership); the
        /// leaving node that was its other replica hands it to the new replica itself (Handoff).
        /// Only with one older membership.
        case leavesTo(HostPort)
    }

    package func plan(forHash hash: UInt64, currentRange: Int? = nil) -> ScanPlan {
        plan(lookUp(hash, currentRange: currentRange))
    }

    /// `plan(forHash:)` of a key whose range is `currentRange` in the current ring and
    /// `olderRanges[i]` in the i-th older one: a key's plan depends on its ranges alone.
    package func plan(currentRange: Int, olderRanges: [Int]) -> ScanPlan {
        plan(rings(currentRange: currentRange, olderRanges: olderRanges))
    }

    private func plan(_ rings: Rings) -> ScanPlan {
        guard isHandedOff(rings), rings.replicas.contains(where: { $0 != selfIndex && !wasReplicaInEveryOlder($0, rings) }) else {
            return .stays
        }
        guard older.count == 1, let selfIndex, rings.replicas.contains(selfIndex),
              rings.before[0].contains(where: { older[0].currentIndex[$0] == selfIndex }),
              let leaving = rings.before[0].first(where: { older[0].currentIndex[$0] < 0 }) else { return .sends }
        return .leavesTo(older[0].ring.nodes[leaving])
    }

    /// A key's replicas in the current ring and in each older one (that ring's node indices).
    private struct Rings {
        let replicas: ArraySlice<Int>
        let before: [ArraySlice<Int>]
    }

    private func lookUp(_ hash: UInt64, currentRange: Int?) -> Rings {
        Rings(replicas: current.replicas(ofRange: currentRange ?? current.rangeIndex(forHash: hash)),
              before: older.map { $0.ring.replicas(forHash: hash) })
    }

    private func rings(currentRange: Int, olderRanges: [Int]) -> Rings {
        Rings(replicas: current.replicas(ofRange: currentRange),
              before: zip(older, olderRanges).map { $0.ring.replicas(ofRange: $1) })
    }

    /// False for a key this node replicates in every membership with the same replicas.
    private func isHandedOff(_ rings: Rings) -> Bool {
        guard let selfIndex, rings.replicas.contains(selfIndex) else { return true }
        return !older.indices.allSatisfy { ring in
            rings.before[ring].count == rings.replicas.count
                && rings.before[ring].allSatisfy { rings.replicas.contains(older[ring].currentIndex[$0]) }
        }
    }

    private func wasReplicaInEveryOlder(_ node: Int, _ rings: Rings) -> Bool {
        !older.isEmpty && older.indices.allSatisfy { ring in rings.before[ring].contains { older[ring].currentIndex[$0] == node } }
    }
}

/// A node's HandoffRule with its answers kept per range pair. At a change every node asks the
/// plan of each of its keys (600k at 1M keys, every node at once): by hash, that was two
/// multi-probe ring lookups and an array of the older rings' replicas per key — a third of a
/// staying node's CPU in the first seconds of a remove, when the foreground fell to a third. A
/// key's plan and targets depend only on its range in the current ring (the index entry
/// carries it) and in the older one, so each pair is worked out once: a key then costs one
/// older-ring lookup and a table read. With no older membership (releasing) the current range
/// alone decides; with several (a change before the last one ended), or past
/// Limits.handoffPlanPairsMax pairs, nothing is kept and the rule answers each time.
/// Used on the node's loop only.
package final class HandoffPlans {
    package let rule: HandoffRule
    /// The one older ring, if any (nil too when nothing is kept).
    private let older: HashRing?
    private let olderRangeCount: Int
    private let isKept: Bool
    /// Per pair (current range × olderRangeCount + older range): 0 not yet known, 1 stays,
    /// 2 sends, 3 + i leaves the key to node i of the older ring.
    private var plans: [UInt16]
    private var targetLists: [[Int]?]

    package init(_ rule: HandoffRule) {
        self.rule = rule
        let olderRings = rule.olderRings
        older = olderRings.count == 1 ? olderRings[0] : nil
        olderRangeCount = older?.rangeCount ?? 1
        let pairs = rule.current.rangeCount * olderRangeCount
        isKept = olderRings.count <= 1 && pairs <= Limits.handoffPlanPairsMax
        plans = isKept ? [UInt16](repeating: 0, count: pairs) : []
        targetLists = isKept ? [[Int]?](repeating: nil, count: pairs) : []
    }

    package func plan(forHash hash: UInt64, currentRange: Int? = nil) -> HandoffRule.ScanPlan {
        guard isKept else { return rule.plan(forHash: hash, currentRange: currentRange) }
        let (pair, current, olderRange) = self.pair(hash, currentRange)
        var code = plans[pair]
        if code == 0 {
            code = Self.code(of: rule.plan(currentRange: current, olderRanges: olderRange.map { [$0] } ?? []), older: older)
            plans[pair] = code
        }
        switch code {
        case 1: return .stays
        case 2: return .sends
        default: return .leavesTo(older!.nodes[Int(code) - 3])
        }
    }

    package func targets(forKey key: [UInt8]) -> [Int] {
        guard isKept else { return rule.targets(forKey: key) }
        let (pair, current, olderRange) = self.pair(StableHash.hash(key), nil)
        if let known = targetLists[pair] { return known }
        let targets = rule.targets(currentRange: current, olderRanges: olderRange.map { [$0] } ?? [])
        targetLists[pair] = targets
        return targets
    }

    /// The key's pair, its current range and its range in the older ring (nil: none).
    private func pair(_ hash: UInt64, _ currentRange: Int?) -> (pair: Int, current: Int, older: Int?) {
        let current = currentRange ?? rule.current.rangeIndex(forHash: hash)
        guard let older else { return (current, current, nil) }
        let olderRange = older.rangeIndex(forHash: hash)
        return (current * olderRangeCount + olderRange, current, olderRange)
    }

    private static func code(of plan: HandoffRule.ScanPlan, older: HashRing?) -> UInt16 {
        switch plan {
        case .stays: return 1
        case .sends: return 2
        case .leavesTo(let node): return 3 + UInt16(older!.nodes.firstIndex(of: node)!)
        }
    }
}

/// A handoff's pace per target: one batch per Limits.handoffBatchIntervalMs once under way, a
/// few times that at its start, coming down linearly over Limits.handoffRampMs (every node
/// begins its handoff at the same moment; at full pace at once, the first seconds of a remove
/// at 1M keys answered a quarter of the foreground's requests).
///
/// A node that stays while a live node leaves (`besideLeavingNode`) goes
/// Limits.handoffBesideLeavingFactor times slower until that node is done: the leaving node
/// sends most of the records (once per key it held) and sets the remove's length, while the
/// staying nodes' own share (keys whose both replicas change, which they send beside it) went
/// in the first 4–5 s at full pace, every node at 20–30 % of a core at once and the
/// foreground at a third of its answers.
///
/// A node sending to more than Limits.handoffTargetsAtFullPace targets at once (`busyTargets`:
/// a leaving node sends to every other node) shares that pace among them: per target, the
/// interval grows in proportion. A node's sending costs its own loop and disk whatever the
/// number of targets, and a leaving node sending to four at full pace took the remove's
/// foreground down to 60–80 % of its answers, where a joining node's four sources, one target
/// each, kept the add at 85–99 %. Beside a leaving node both slowdowns apply (their product):
/// with the larger alone, the remove's worst second came when every node reached its full
/// pace at the ramp's end (p99 16–28 ms against 8–12 before, session 16).
package enum HandoffPace {
    package static func batchIntervalMs(afterMs elapsed: UInt64, besideLeavingNode: Bool = false, busyTargets: Int = 1) -> UInt64 {
        let ramp = max(Limits.handoffRampMs, 1)
        let left = ramp - min(elapsed, ramp)
        let interval = Limits.handoffBatchIntervalMs + Limits.handoffBatchIntervalMs * (Limits.handoffRampIntervalsMax - 1) * left / ramp
        let shared = interval * UInt64(max(busyTargets, Limits.handoffTargetsAtFullPace)) / UInt64(Limits.handoffTargetsAtFullPace)
        return besideLeavingNode ? shared * Limits.handoffBesideLeavingFactor : shared
    }
}
