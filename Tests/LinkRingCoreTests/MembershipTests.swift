// Membership change in the pure core: the hosts file's generation line, how two memberships
// compare, the node's state file, the proxy's placement while data moves, the node's handoff
// rule, the newest-answer read and the X-Generation header.

import Testing
@testable import LinkRingCore

private func membership(_ generation: UInt64, _ ports: [Int]) -> Membership {
    Membership(generation: generation, entries: ports.enumerated().map {
        HostsEntry(address: HostPort(host: "127.0.0.1", port: $1), line: $0 + 2)
    })
}

@Suite("Membership")
struct MembershipTests {
    @Test("a hosts file's generation line: optional (0), once, a number; the entries keep their lines")
    func generationLine() throws {
        let parsed = try HostsFile.membership("# cluster\ngeneration 7\n127.0.0.1:1\n127.0.0.1:2\n")
        #expect(parsed.generation == 7 && parsed.nodes.count == 2 && parsed.entries[0].line == 3)
        #expect(try HostsFile.membership("127.0.0.1:1\n").generation == 0)
        #expect(try HostsFile.membership("generation\t12 # tab and comment\n127.0.0.1:1\n").generation == 12)
        for bad in ["generation\n127.0.0.1:1\n", "generation x\n127.0.0.1:1\n", "generation -1\n127.0.0.1:1\n",
                    "generation 1\ngeneration 2\n127.0.0.1:1\n", "generation 1234567890123456789\n127.0.0.1:1\n",
                    "generations 1\n127.0.0.1:1\n", "generation 1\n"] {
            #expect(throws: CommandLineError.self, "\(bad.debugDescription)") { try HostsFile.membership(bad) }
        }
        #expect(throws: CommandLineError.self) { try HostsFile.membershipOfComplete("generation 2\n127.0.0.1:1") }
    }

    @Test("newer, same, older, or conflicting: the same generation with other nodes is refused, saying why")
    func comparison() {
        let current = membership(3, [1, 2, 3])
        #expect(current.compare(membership(4, [1, 2])) == .newer)
        #expect(current.compare(membership(3, [1, 2, 3])) == .same)
        #expect(current.compare(membership(2, [1, 2, 3, 4])) == .older)
        #expect(current.compare(membership(3, [1, 2, 3, 4])) == .conflicting)
        let refusal = MembershipChange.refusal(.conflicting, current: current, incoming: membership(3, [1]), source: "hosts.txt")
        #expect(refusal?.contains("same generation 3") == true && refusal?.contains("Raise the 'generation N' line") == true)
        #expect(MembershipChange.refusal(.older, current: current, incoming: membership(2, [1]), source: "h")?.contains("older") == true)
        #expect(MembershipChange.refusal(.newer, current: current, incoming: membership(4, [1]), source: "h") == nil)
    }

    @Test("the node's state file and the health report's movingFrom round-trip; moves keep at most the limit")
    func stateRoundTrip() throws {
        var moving = MovingMemberships(current: membership(1, [1, 2, 3]))
        moving.move(to: membership(2, [1, 2, 3, 4]))
        moving.move(to: membership(3, [2, 3, 4]))
        #expect(moving.previous.map(\.generation) == [2, 1])
        let back = try MovingMemberships.parseState(moving.stateText, source: "state")
        #expect(back.current.nodes == moving.current.nodes && back.current.generation == 3)
        #expect(back.previous.map(\.generation) == [2, 1] && back.previous.map(\.nodes) == moving.previous.map(\.nodes))
        #expect(moving.allNodes.map(\.port) == [2, 3, 4, 1])
        let report = MembershipReport.encodePrevious(moving.previous)
        #expect(report == "2 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4;1 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3")
        #expect(MembershipReport.decodePrevious(report)?.map(\.nodes) == moving.previous.map(\.nodes))
        #expect(MembershipReport.decodePrevious("") == [])
        for bad in ["x 127.0.0.1:1", "2", "2 nohost"] { #expect(MembershipReport.decodePrevious(bad) == nil, "\(bad)") }
        for generation in 4...10 { moving.move(to: membership(UInt64(generation), [2, 3, 4])) }
        #expect(moving.previous.count == Limits.membershipsMovingMax)
        moving.finishMove()
        #expect(!moving.isMoving)
    }

    @Test("while moving, a key's replicas are those of every membership, current first; not moving, the current ring's")
    func placement() {
        var moving = MovingMemberships(current: membership(1, [1, 2, 3, 4]))
        let still = Placement(moving, vnodesPerNode: 64, replicas: 2)
        #expect(!still.isMoving)
        moving.move(to: membership(2, [1, 2, 3, 4, 5]))
        let placement = Placement(moving, vnodesPerNode: 64, replicas: 2)
        let old = HashRing(nodes: membership(1, [1, 2, 3, 4]).nodes, vnodesPerNode: 64, replicas: 2)
        var grown = 0
        for index in 0..<2_000 {
            let key = bytes("key-\(index)")
            let all = placement.allReplicas(forKey: key)
            let current = Array(placement.replicas(forKey: key))
            #expect(Array(all.prefix(2)) == current && Set(all).count == all.count)
            let before = old.replicas(forKey: key).map { old.nodes[$0] }
            #expect(Set(before).isSubset(of: Set(all.map { placement.nodes[$0] })))
            if all.count > 2 { grown += 1 }
        }
        #expect(grown > 0 && grown < 2_000, "some keys move, not all")
        // Shrinking: the removed node is still among the nodes, after the current ones.
        moving.move(to: membership(3, [1, 2, 3, 5]))
        let shrunk = Placement(moving, vnodesPerNode: 64, replicas: 2)
        #expect(shrunk.nodes.map(\.port) == [1, 2, 3, 5, 4])
    }

    @Test("a moving key's keepers are the replicas of every membership (grow, shrink, two changes at once); a read asks one of them alone")
    func keepers() {
        var moving = MovingMemberships(current: membership(1, [1, 2, 3, 4]))
        let rings = [[1, 2, 3, 4], [1, 2, 3, 4, 5], [2, 3, 4, 5]].enumerated().map { generation, ports in
            HashRing(nodes: membership(UInt64(generation + 1), ports).nodes, vnodesPerNode: 64, replicas: 2)
        }
        moving.move(to: membership(2, [1, 2, 3, 4, 5]))
        let grown = Placement(moving, vnodesPerNode: 64, replicas: 2)
        moving.move(to: membership(3, [2, 3, 4, 5]))
        let twice = Placement(moving, vnodesPerNode: 64, replicas: 2)
        for (placement, used) in [(grown, rings[0...1]), (twice, rings[0...2])] {
            var withKeeper = 0, withoutKeeper = 0
            for index in 0..<2_000 {
                let key = bytes("key-\(index)")
                let keepers = Set(placement.keepers(forKey: key).map { placement.nodes[$0] })
                let sets = used.map { ring in Set(ring.replicas(forKey: key).map { ring.nodes[$0] }) }
                let inEvery = sets.dropFirst().reduce(sets[0]) { $0.intersection($1) }
                #expect(keepers == inEvery, "key-\(index)")
                guard placement.allReplicas(forKey: key).count > 2 else { continue }
                if keepers.isEmpty { withoutKeeper += 1 } else { withKeeper += 1 }
            }
            // One change: about four in five moving keys keep a replica (4 → 5 here); the others change both (read everywhere).
            print("keepers over \(used.count) memberships: \(withKeeper) moving keys with one, \(withoutKeeper) without")
            #expect(withKeeper > (used.count == 2 ? 3 : 1) * withoutKeeper, "\(withKeeper) with a keeper, \(withoutKeeper) without")
        }
    }

    @Test("handoff scan: the fingerprint test agrees with the key's targets, so a scan reads only keys that go somewhere")
    func handoffScanFilter() {
        let before = HashRing(nodes: membership(1, [1, 2, 3, 4]).nodes, vnodesPerNode: 64, replicas: 2)
        let after = HashRing(nodes: membership(2, [1, 2, 3, 4, 5]).nodes, vnodesPerNode: 64, replicas: 2)
        let rules = [HandoffRule(current: after, older: [before], selfAddress: HostPort(host: "127.0.0.1", port: 1)),
                     HandoffRule(current: before, older: [after], selfAddress: HostPort(host: "127.0.0.1", port: 5)),
                     HandoffRule(current: after, older: [], selfAddress: HostPort(host: "127.0.0.1", port: 2)),
                     // A node that stays while node 5 leaves: it leaves to node 5 the keys both held.
                     HandoffRule(current: before, older: [after], selfAddress: HostPort(host: "127.0.0.1", port: 1))]
        let index = KeyValueIndex()
        for key in 0..<3_000 { index.apply(LogRecord(version: UInt64(key + 1), op: .put, key: bytes("key-\(key)"), value: bytes("v"))) }
        var leftToLeaving = 0
        for rule in rules {
            var moving = 0
            for key in 0..<3_000 {
                let key = bytes("key-\(key)")
                let hash = StableHash.hash(key)
                let plan = rule.plan(forHash: hash)
                #expect((plan != .stays) == !rule.targets(forKey: key).isEmpty)
                #expect(rule.plan(forHash: hash, currentRange: rule.current.rangeIndex(forKey: key)) == plan)
                if case .leavesTo(let node) = plan {
                    // This node kept the key and its other old replica is a node that leaves.
                    #expect(rule.current.replicas(forKey: key).contains(rule.selfIndex ?? -1) && !rule.current.nodes.contains(node))
                    leftToLeaving += 1
                }
                if !rule.targets(forKey: key).isEmpty { moving += 1 }
            }
            var read: [[UInt8]] = []
            var cursor: UInt64? = 0
            while let from = cursor {
                let step = index.keys(from: from, slots: 256) { fingerprint, _ in rule.plan(forHash: fingerprint) != .stays }
                read += step.keys
                cursor = step.next
            }
            #expect(read.count == moving && read.allSatisfy { !rule.targets(forKey: $0).isEmpty })
            #expect(moving > 0 && moving < 3_000)
        }
        #expect(leftToLeaving > 0, "a keeper leaves some keys to the leaving node")
    }

    @Test("handoff plans kept per range pair answer exactly as the rule: add, remove, release, two older memberships")
    func handoffPlansMatchRule() {
        let four = HashRing(nodes: membership(1, [1, 2, 3, 4]).nodes, vnodesPerNode: 64, replicas: 2)
        let five = HashRing(nodes: membership(2, [1, 2, 3, 4, 5]).nodes, vnodesPerNode: 64, replicas: 2)
        let three = HashRing(nodes: membership(3, [1, 2, 3]).nodes, vnodesPerNode: 16, replicas: 2)
        let node = { (port: Int) in HostPort(host: "127.0.0.1", port: port) }
        let rules = [HandoffRule(current: five, older: [four], selfAddress: node(1)),
                     HandoffRule(current: five, older: [four], selfAddress: node(5)),
                     HandoffRule(current: four, older: [five], selfAddress: node(5)),  // leaving
                     HandoffRule(current: four, older: [five], selfAddress: node(2)),  // keeps some for node 5
                     HandoffRule(current: five, older: [], selfAddress: node(3)),      // releasing
                     HandoffRule(current: three, older: [five, four], selfAddress: node(1))]
        for rule in rules {
            let plans = HandoffPlans(rule)
            var kinds = Set<String>()
            for pass in 0..<2 {  // the second pass answers from what the first kept
                for index in 0..<4_000 {
                    let key = bytes("key-\(index)")
                    let hash = StableHash.hash(key)
                    let plan = plans.plan(forHash: hash, currentRange: index % 2 == 0 ? rule.current.rangeIndex(forHash: hash) : nil)
                    #expect(plan == rule.plan(forHash: hash), "pass \(pass), key \(index)")
                    #expect(plans.targets(forKey: key) == rule.targets(forKey: key), "pass \(pass), key \(index)")
                    kinds.insert("\(plan)".prefix(5).description)
                }
            }
            #expect(kinds.count >= 2, "a rule that sends some keys and not others: \(kinds)")
        }
    }

    @Test("a handoff starts slowly: a few batch intervals per batch at first, down to one over the ramp, never below; slower beside a leaving node and shared among many targets")
    func handoffPace() {
        let base = Limits.handoffBatchIntervalMs
        #expect(HandoffPace.batchIntervalMs(afterMs: 0) == base * Limits.handoffRampIntervalsMax)
        #expect(HandoffPace.batchIntervalMs(afterMs: Limits.handoffRampMs) == base)
        #expect(HandoffPace.batchIntervalMs(afterMs: 10 * Limits.handoffRampMs) == base)
        let half = HandoffPace.batchIntervalMs(afterMs: Limits.handoffRampMs / 2)
        #expect(half > base && half < base * Limits.handoffRampIntervalsMax)
        #expect(HandoffPace.batchIntervalMs(afterMs: 10 * Limits.handoffRampMs, besideLeavingNode: true)
                == base * Limits.handoffBesideLeavingFactor, "a staying node goes slower while a live node leaves")
        #expect(HandoffPace.batchIntervalMs(afterMs: 0, besideLeavingNode: true)
                == base * Limits.handoffRampIntervalsMax * Limits.handoffBesideLeavingFactor)
        #expect(Limits.handoffBesideLeavingFactor > 1)
        // A node sending to many targets at once shares the full pace among them.
        let full = Limits.handoffTargetsAtFullPace
        #expect(HandoffPace.batchIntervalMs(afterMs: 10 * Limits.handoffRampMs, busyTargets: full) == base)
        #expect(HandoffPace.batchIntervalMs(afterMs: 10 * Limits.handoffRampMs, busyTargets: 0) == base)
        #expect(HandoffPace.batchIntervalMs(afterMs: 10 * Limits.handoffRampMs, busyTargets: 2 * full) == 2 * base)
        #expect(HandoffPace.batchIntervalMs(afterMs: 0, busyTargets: 2 * full) == 2 * base * Limits.handoffRampIntervalsMax)
        #expect(HandoffPace.batchIntervalMs(afterMs: 10 * Limits.handoffRampMs, besideLeavingNode: true, busyTargets: 2 * full)
                == base * Limits.handoffBesideLeavingFactor * 2, "both slowdowns")
        var last = UInt64.max
        for elapsed in stride(from: UInt64(0), through: Limits.handoffRampMs + 100, by: 50) {
            let interval = HandoffPace.batchIntervalMs(afterMs: elapsed)
            #expect(interval <= last && interval >= base)
            last = interval
        }
    }

    @Test("handoff: a key that stays put is not sent; one whose replicas changed goes to its new replicas only (not to one that kept it)")
    func handoffRule() {
        let before = HashRing(nodes: membership(1, [1, 2, 3, 4]).nodes, vnodesPerNode: 64, replicas: 2)
        let after = HashRing(nodes: membership(2, [1, 2, 3, 4, 5]).nodes, vnodesPerNode: 64, replicas: 2)
        let me = HostPort(host: "127.0.0.1", port: 1)
        let rule = HandoffRule(current: after, older: [before], selfAddress: me)
        var sent = 0
        for index in 0..<2_000 {
            let key = bytes("key-\(index)")
            let targets = rule.targets(forKey: key)
            let old = Set(before.replicas(forKey: key).map { before.nodes[$0] })
            let new = Set(after.replicas(forKey: key).map { after.nodes[$0] })
            if old == new && new.contains(me) {
                #expect(targets.isEmpty)
            } else {
                #expect(Set(targets.map { after.nodes[$0] }) == new.subtracting([me]).subtracting(old))
                sent += 1
            }
        }
        #expect(sent > 0)
        // A node no longer listed hands every key to all its current replicas.
        let removed = HandoffRule(current: before, older: [after], selfAddress: HostPort(host: "127.0.0.1", port: 5))
        #expect(removed.selfIndex == nil)
        // The removed node hands each of its keys to the replicas that did not hold it.
        for index in 0..<200 {
            let key = bytes("key-\(index)")
            let old = Set(after.replicas(forKey: key).map { after.nodes[$0] })
            let new = Set(before.replicas(forKey: key).map { before.nodes[$0] })
            #expect(Set(removed.targets(forKey: key).map { before.nodes[$0] }) == new.subtracting(old))
        }
        // Releasing (no older membership): every current replica.
        let release = HandoffRule(current: after, older: [], selfAddress: me)
        for index in 0..<200 {
            let key = bytes("key-\(index)")
            let replicas = Set(after.replicas(forKey: key))
            #expect(Set(release.targets(forKey: key)) == (replicas.contains(0) ? [] : replicas))
        }
    }

    @Test("a moving read keeps the newest answer: a newer tombstone beats an older value; failures and late replicas are not waited for")
    func movingRead() {
        var read = MovingRead(asking: 3)
        read.answered(0, status: 404, version: 0, body: [], isRecovering: false)
        read.answered(1, status: 200, version: 5, body: bytes("http://a"), isRecovering: true)
        #expect(!read.isDone)
        read.giveUp(2)
        #expect(read.isDone && read.decision == .found(location: bytes("http://a"), isRecovering: true))
        var deleted = MovingRead(asking: 2)
        deleted.answered(0, status: 200, version: 5, body: bytes("http://a"), isRecovering: false)
        deleted.answered(1, status: 404, version: 9, body: [], isRecovering: false)
        #expect(deleted.decision == .missing(isRecovering: false))
        var failed = MovingRead(asking: 2)
        failed.answered(0, status: 503, version: nil, body: [], isRecovering: false)
        failed.giveUp(1)
        #expect(failed.isDone && failed.decision == nil)
        failed.answered(1, status: 200, version: 1, body: bytes("x"), isRecovering: false)
        #expect(failed.decision == nil, "an answer after giving up is ignored")
        #expect(failed.failures == 2)
        var missingWithFailure = MovingRead(asking: 2)
        missingWithFailure.answered(0, status: 404, version: 0, body: [], isRecovering: false)
        missingWithFailure.giveUp(1)
        #expect(missingWithFailure.decision == .missing(isRecovering: false) && missingWithFailure.failures == 1,
                "the proxy asks again before it trusts this 404")
        #expect(!missingWithFailure.isUnheardAbsence, "without holders named, a 404 is an absence")
        // Replica 0 is new to the key, 1 and 2 held it: a 404 that never saw the key counts only
        // when a holder gave it; a tombstone or a value counts from anyone.
        var newOnly = MovingRead(asking: 3, holders: [1, 2])
        newOnly.answered(0, status: 404, version: 0, body: [], isRecovering: false)
        newOnly.giveUp(1)
        newOnly.giveUp(2)
        #expect(newOnly.isDone && newOnly.isUnheardAbsence, "the holders failed: the new replica's 404 is not an answer")
        var holderAnswered = MovingRead(asking: 3, holders: [1, 2])
        holderAnswered.answered(0, status: 404, version: 0, body: [], isRecovering: false)
        holderAnswered.answered(1, status: 404, version: 0, body: [], isRecovering: false)
        holderAnswered.giveUp(2)
        #expect(!holderAnswered.isUnheardAbsence)
        var tombstone = MovingRead(asking: 3, holders: [1, 2])
        tombstone.answered(0, status: 404, version: 9, body: [], isRecovering: false)
        tombstone.giveUp(1)
        tombstone.answered(2, status: 503, version: nil, body: [], isRecovering: false)
        #expect(!tombstone.isUnheardAbsence && tombstone.decision == .missing(isRecovering: false))
    }

    @Test("X-Generation: parsed as a number; malformed is 400; the encoder sends it on every internal request")
    func generationHeader() {
        var parser = HTTPRequestParser()
        let good = bytes("GET /_/kv?short=a HTTP/1.1\r\nHost: x\r\nX-Generation: 42\r\n\r\n")
        guard case .head(let head) = parser.parse(good, from: 0, to: good.count) else { return #expect(Bool(false)) }
        #expect(head.generation == 42)
        for bad in ["x", "", "1234567890123456789", "-1"] {
            var parser = HTTPRequestParser()
            let request = bytes("GET / HTTP/1.1\r\nHost: x\r\nX-Generation: \(bad)\r\n\r\n")
            guard case .failure(let failure) = parser.parse(request, from: 0, to: request.count) else { return #expect(Bool(false), "\(bad)") }
            #expect(failure.status == .badRequest)
        }
        let encoder = InternalRequestEncoder(host: "linkring", clusterToken: nil, generation: 7)
        #expect(String(decoding: encoder.makeRead(key: bytes("a")), as: UTF8.self).contains("\r\nX-Generation: 7\r\n"))
        let handoff = String(decoding: encoder.makeHandoff(records: [1, 2]), as: UTF8.self)
        #expect(handoff.hasPrefix("POST /_/handoff HTTP/1.1\r\n") && handoff.contains("Content-Length: 2\r\n"))
    }
}
