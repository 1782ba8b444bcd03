// The compact index on a log in memory: keys that share a fingerprint (forced) never mix; the
// table keeps every entry as it grows; entries follow their records when compaction moves them
// (and a newer write is not moved back); key pages list a range exactly once, in fingerprint
// order, whatever the page size; a walk by fingerprint cursor (handoff) sees every key once
// while the table grows; a record that fails its CRC on the way back reads as absent.

import Testing
@testable import LinkRingCore

@Suite("Compact index")
struct IndexTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    func put(_ key: String, _ version: UInt64, _ value: String? = nil) -> LogRecord {
        LogRecord(version: version, op: .put, key: bytes(key), value: bytes(value ?? "http://v/\(key)/\(version)"))
    }

    @Test("an entry is 32 bytes, with no reference in it")
    func entrySize() {
        #expect(MemoryLayout<IndexEntry>.stride == 32)
        #expect(_isPOD(IndexEntry.self))
    }

    @Test("keys that share a fingerprint are told apart by the key read from the log", arguments: [1, 2, 7, 300])
    func forcedCollisions(distinctFingerprints: Int) {
        let index = KeyValueIndex(source: RecordsInMemory(), fingerprint: { key in UInt64(key.reduce(0) { $0 + Int($1) } % distinctFingerprints) })
        for key in 0..<400 { index.apply(put("k\(key)", 10)) }
        for key in stride(from: 0, to: 400, by: 3) { index.apply(put("k\(key)", 20, "http://new/\(key)")) }
        for key in stride(from: 1, to: 400, by: 5) { index.apply(LogRecord(version: 30, op: .delete, key: bytes("k\(key)"))) }
        index.apply(put("k2", 5, "http://older"))
        for key in 0..<400 {
            let expected: StoredValue
            if key % 5 == 1 {
                expected = StoredValue(version: 30, value: nil)
            } else if key % 3 == 0 {
                expected = StoredValue(version: 20, value: bytes("http://new/\(key)"))
            } else {
                expected = StoredValue(version: 10, value: bytes("http://v/k\(key)/10"))
            }
            #expect(index.lookup(bytes("k\(key)")) == expected, "k\(key)")
        }
        #expect(index.lookup(bytes("k400")) == nil)
        #expect(index.count == 400 && index.tombstones == 80 && index.liveKeys == 320)
    }

    @Test("a record for a peer is the log's own bytes, exactly what encoding the entry again gives: values, tombstones, a forget's entry, keys sharing a fingerprint")
    func recordBytesForPeers() {
        let index = KeyValueIndex(source: RecordsInMemory(), fingerprint: { key in UInt64(key.count % 3) })
        for key in 0..<60 { index.apply(put("k\(key)", 10)) }
        for key in stride(from: 0, to: 60, by: 4) { index.apply(LogRecord(version: 20, op: .delete, key: bytes("k\(key)"))) }
        index.apply(put("far", 1 << 60))
        index.apply(LogRecord(version: 1 << 60, op: .forget, key: bytes("far")))
        var sent: [UInt8] = []
        var expected: [UInt8] = []
        for key in (0..<61).map({ bytes("k\($0)") }) + [bytes("far")] {
            let version = index.appendRecord(for: key, to: &sent)
            let record = index.record(for: key)
            record?.encode(into: &expected)
            #expect(version == record?.version, "\(String(decoding: key, as: UTF8.self))")
        }
        #expect(index.record(for: bytes("far")) == LogRecord(version: 0, op: .delete, key: bytes("far")))
        #expect(index.appendRecord(for: bytes("k60"), to: &sent) == nil)
        #expect(sent == expected && !sent.isEmpty)
    }

    @Test("the table grows and keeps every entry; its bytes stay near 32 per key over the load factor")
    func growth() {
        let index = KeyValueIndex()
        for key in 0..<50_000 { index.apply(put("key-\(key)", 1)) }
        #expect(index.count == 50_000)
        #expect(index.count * 100 <= index.capacity * KeyValueIndex.maxLoadPercent)
        #expect(index.tableBytes <= 50_000 * 32 * 100 / 50, "at least half full after growing by half")
        for key in stride(from: 0, to: 50_000, by: 97) { #expect(index.lookup(bytes("key-\(key)"))?.version == 1) }
    }

    @Test("compaction moves records: entries follow them, an entry a newer write moved on stays")
    func positionsAfterCompaction() {
        let memory = RecordsInMemory()
        let index = KeyValueIndex(source: memory)
        for key in 0..<100 { index.apply(put("k\(key)", 1)) }
        for key in 0..<50 { index.apply(put("k\(key)", 2)) }
        // The rewrite: sift segment 0 into segment 1, as LogCompactor does.
        var kept: [(UInt64, RecordLocation, RecordLocation)] = []
        var offset = 0
        let old = memory.segments[0]!
        while offset < old.count, case .record(let record, let next) = LogRecord.decode(old, at: offset) {
            let from = RecordLocation(segment: 0, offset: offset, length: next - offset)!
            let fingerprint = index.fingerprint(of: record.key)
            if index.isCurrent(fingerprint: fingerprint, at: from) { kept.append((fingerprint, from, memory.append(record, segment: 1))) }
            offset = next
        }
        #expect(kept.count == 100, "one live record per key")
        index.apply(put("k7", 3, "http://during"))  // a write during the rewrite, in the old segment
        for (fingerprint, from, to) in kept { index.relocate(fingerprint: fingerprint, from: from, to: to) }
        let newer = index.lookup(bytes("k7"))
        memory.setSegment(0, Array(repeating: 0, count: memory.segments[0]!.count))  // the old segment is gone
        #expect(newer?.version == 3)
        #expect(index.lookup(bytes("k7")) == nil, "the newer write still points at segment 0 (wiped here), not at the moved older one")
        for key in 0..<100 where key != 7 {
            #expect(index.lookup(bytes("k\(key)"))?.version == (key < 50 ? 2 : 1), "k\(key)")
        }
        #expect(index.readFailures > 0)
    }

    @Test("a record that fails its CRC when read back reads as absent and is counted")
    func corruptRecordReadsAbsent() {
        let memory = RecordsInMemory()
        let index = KeyValueIndex(source: memory)
        index.apply(put("a", 1))
        var bytes = memory.segments[0]!
        bytes[bytes.count - 6] ^= 0x40
        memory.setSegment(0, bytes)
        #expect(index.lookup(self.bytes("a")) == nil)
        #expect(index.readFailures == 1)
    }

    @Test("key pages list each entry of a range once, in table order, for any page size", arguments: [1, 3, 50, 10_000])
    func pagesCoverARange(limit: Int) {
        let ring = HashRing(nodes: [HostPort(host: "a", port: 1), HostPort(host: "b", port: 2)], vnodesPerNode: 4, replicas: 1)
        let index = KeyValueIndex()
        index.partition(by: ring)
        for key in 0..<600 { index.apply(put("k\(key)", UInt64(key + 1))) }
        for range in 0..<ring.rangeCount {
            var seen: [[UInt8]] = []
            var cursor: UInt32? = 0
            while let from = cursor {
                let page = index.page(range: range, from: from, limit: limit)
                #expect(page.entries.count <= max(limit, 1) || page.next == nil)
                seen += page.entries.map(\.key)
                cursor = page.next
            }
            let expected = (0..<600).map { bytes("k\($0)") }.filter { ring.rangeIndex(forKey: $0) == range }
            #expect(seen.count == expected.count && Set(seen) == Set(expected), "range \(range)")
            let order = seen.map { index.tableOrder(StableHash.hash($0)) }
            #expect(order == order.sorted())
        }
    }

    @Test("pulling a whole range page by page walks about one table's worth of slots, not one table per page")
    func pagesWalkAStretch() {
        let ring = HashRing(nodes: (1...4).map { HostPort(host: "n\($0)", port: $0) }, vnodesPerNode: 8, replicas: 2)
        let index = KeyValueIndex()
        index.partition(by: ring)
        for key in 0..<8_000 { index.apply(put("k\(key)", 1)) }
        let capacity = index.capacity
        for range in [0, 17, ring.rangeCount - 1] {
            let before = index.slotsWalked
            var pages = 0
            var cursor: UInt32? = 0
            while let from = cursor {
                cursor = index.page(range: range, from: from, limit: 20).next
                pages += 1
            }
            #expect(pages > 5, "range \(range): \(pages) pages")
            #expect(index.slotsWalked - before <= 2 * capacity, "range \(range): \(index.slotsWalked - before) slots for \(pages) pages of a \(capacity)-slot table")
        }
    }

    @Test("a node holding only some ranges sizes its page stretches by those: a range's pull walks about one table, not two")
    func pagesOfAPartialHolder() {
        let ring = HashRing(nodes: (1...4).map { HostPort(host: "n\($0)", port: $0) }, vnodesPerNode: 8, replicas: 2)
        let index = KeyValueIndex()
        index.partition(by: ring)
        // What node 0 holds: the keys of the ranges it is a replica of (half of them).
        let held = Set((0..<ring.rangeCount).filter { ring.replicas(ofRange: $0).contains(0) })
        for key in 0..<16_000 where held.contains(ring.rangeIndex(forKey: bytes("k\(key)"))) { index.apply(put("k\(key)", 1)) }
        let capacity = index.capacity
        var walked = 0
        for range in held.sorted() {
            let before = index.slotsWalked
            var cursor: UInt32? = 0
            while let from = cursor { cursor = index.page(range: range, from: from, limit: 20).next }
            walked += index.slotsWalked - before
        }
        let perRange = Double(walked) / Double(held.count) / Double(capacity)
        // Sized by all the ring's ranges this walked 2.65 tables per range; by the held ones 1.55.
        #expect(perRange <= 1.8, "\(perRange) tables walked per range")
    }

    @Test("keys arriving in a peer's table order (pages, handoffs) spread over this table: its order has its own seed")
    func peerOrderDoesNotPile() {
        let sender = KeyValueIndex(orderSeed: 1)
        let keys = (0..<20_000).map { bytes("p\($0)") }
        let inSenderOrder = keys.sorted { sender.tableOrder(StableHash.hash($0)) < sender.tableOrder(StableHash.hash($1)) }
        // Half of them, as a receiver holds them midway: an order of its own spreads them; the
        // sender's order would have piled them into the first half of the table.
        for (seed, limit) in [(UInt64(2), 5), (UInt64(1), Int.max)] {
            let receiver = KeyValueIndex(orderSeed: seed)
            for key in inSenderOrder.prefix(10_000) { receiver.apply(put(String(decoding: key, as: UTF8.self), 1)) }
            let perKey = receiver.displacement / 10_000
            if limit == Int.max {
                #expect(perKey > 50, "the same order piles keys up (\(perKey) slots per key): the check shows the harm")
            } else {
                #expect(perKey <= limit, "\(perKey) slots from home per key")
            }
        }
    }

    @Test("pages of a range while writes go on and the table grows: every key present throughout exactly once")
    func pagesWhileGrowing() {
        let ring = HashRing(nodes: [HostPort(host: "a", port: 1), HostPort(host: "b", port: 2)], vnodesPerNode: 4, replicas: 1)
        let index = KeyValueIndex()
        index.partition(by: ring)
        for key in 0..<2_000 { index.apply(put("old\(key)", 1)) }
        var added = 0
        for range in 0..<ring.rangeCount {
            var seen: [[UInt8]] = []
            var cursor: UInt32? = 0
            while let from = cursor {
                let page = index.page(range: range, from: from, limit: 7)
                seen += page.entries.map(\.key)
                cursor = page.next
                for _ in 0..<20 {
                    index.apply(put("new\(added)", 1))
                    added += 1
                }
            }
            let old = seen.filter { $0.starts(with: Array("old".utf8)) }
            let expected = (0..<2_000).map { bytes("old\($0)") }.filter { ring.rangeIndex(forKey: $0) == range }
            #expect(old.count == expected.count && Set(old) == Set(expected), "range \(range)")
            #expect(Set(seen).count == seen.count, "a key twice in range \(range)")
        }
    }

    @Test("a page's stretch ends a top-32-bit group, and never just below the end marker")
    func pageStretchEnds() {
        let end = KeyValueIndex.groupEnd(from: 0, slots: 10, capacity: 1_000)
        #expect(end & 0xFFFF_FFFF == 0xFFFF_FFFF && end < UInt64.max)
        #expect(KeyValueIndex.groupEnd(from: UInt64.max - (1 << 33), slots: 10, capacity: 1_000) == UInt64.max)
        #expect(KeyValueIndex.groupEnd(from: 1 << 63, slots: 2_000, capacity: 1_000) == UInt64.max)
        #expect(KeyValueIndex.groupEnd(from: 5 << 32, slots: 1, capacity: Int(UInt32.max) * 4) == (5 << 32) | 0xFFFF_FFFF)
    }

    @Test("a walk by fingerprint cursor sees every key present throughout exactly once, while the table grows", arguments: [1, 7, 100])
    func walkWhileGrowing(slotsPerStep: Int) {
        let index = KeyValueIndex()
        for key in 0..<3_000 { index.apply(put("old\(key)", 1)) }
        var seen: [[UInt8]] = []
        var cursor: UInt64? = 0
        var added = 0
        while let from = cursor {
            let step = index.keys(from: from, slots: slotsPerStep)
            seen += step.keys
            cursor = step.next
            for _ in 0..<5 where added < 20_000 {
                index.apply(put("new\(added)", 1))
                added += 1
            }
        }
        let old = seen.filter { $0.starts(with: Array("old".utf8)) }
        #expect(old.count == 3_000 && Set(old).count == 3_000)
        #expect(Set(seen).count == seen.count, "no key twice")
    }

    @Test("a page ends where the fingerprint's top 32 bits change, and never leaves the end marker as a cursor")
    func pageCuts() {
        let group = { (top: UInt64, count: Int) in (0..<count).map { top << 32 | UInt64($0) } }
        #expect(KeyValueIndex.pageCut(group(1, 3) + group(2, 3), limit: 4) == 3)
        #expect(KeyValueIndex.pageCut(group(1, 5) + group(2, 1), limit: 4) == 5, "a group larger than a page is taken whole")
        #expect(KeyValueIndex.pageCut(group(1, 2) + group(2, 2), limit: 10) == 4)
        #expect(KeyValueIndex.pageCut(group(1, 2) + group(0xFFFF_FFFF, 2), limit: 2) == 4)
    }

    @Test("digests are the XOR of the entries' contributions, kept through overwrites and deletes")
    func digestsFollowChanges() {
        let ring = HashRing(nodes: [HostPort(host: "a", port: 1)], vnodesPerNode: 8, replicas: 1)
        let index = KeyValueIndex()
        index.partition(by: ring)
        for key in 0..<300 { index.apply(put("k\(key)", 5)) }
        for key in 0..<300 where key % 4 == 0 { index.apply(LogRecord(version: 9, op: .delete, key: bytes("k\(key)"))) }
        var expected = [UInt64](repeating: 0, count: ring.rangeCount)
        for (key, stored) in index.contents() { expected[ring.rangeIndex(forKey: key)] ^= EntryHash.of(key, stored) }
        #expect(index.digests == expected)
    }

    @Test("a node removed: every entry's range carries over from its snapshot, or is looked up where its point went, exactly as a lookup")
    func rangesCarryOverARemoval() {
        let nodes = (1...5).map { HostPort(host: "n", port: $0) }
        let old = HashRing(nodes: nodes, vnodesPerNode: 16, replicas: 2)
        let removed = HashRing(nodes: Array(nodes.dropFirst(2)) + [nodes[0]], vnodesPerNode: 16, replicas: 2)
        let added = HashRing(nodes: nodes + [HostPort(host: "n", port: 6)], vnodesPerNode: 16, replicas: 2)
        #expect(old.carriedRanges(from: old) == (0..<old.rangeCount).map { Int32($0) })
        #expect(added.carriedRanges(from: old) == nil, "an added node's points can win any key's probes")
        let carried = removed.carriedRanges(from: old)
        #expect(carried?.filter { $0 < 0 }.count == 16)
        let index = KeyValueIndex()
        index.partition(by: old)
        for key in 0..<20_000 { index.apply(put("k\(key)", 1)) }
        let snapshot = index.partitionSnapshot()
        #expect(snapshot.knownRanges.allSatisfy { $0 != PartitionSnapshot.unknownRange })
        let all = 0..<snapshot.fingerprints.count
        let fast = KeyValueIndex.ranges(of: snapshot, all, carried: carried, in: removed)
        #expect(fast == KeyValueIndex.ranges(of: snapshot.fingerprints, in: removed))
        #expect(KeyValueIndex.ranges(of: snapshot, all, carried: nil, in: added) == KeyValueIndex.ranges(of: snapshot.fingerprints, in: added))
        index.partition(by: removed, snapshot: snapshot, ranges: fast)
        expectPartitioned(index, by: removed)
    }

    @Test("a snapshot knows no range of an entry an unfinished re-partitioning has not reached, nor any once another begins")
    func snapshotKnownRanges() {
        let old = HashRing(nodes: (1...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let new = HashRing(nodes: (2...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let index = KeyValueIndex()
        #expect(index.partitionSnapshot().ring == nil)
        index.partition(by: old)
        for key in 0..<3_000 { index.apply(put("k\(key)", 1)) }
        index.beginPartition(by: new, snapshot: nil, ranges: [])
        _ = index.continuePartition(slots: index.capacity / 2)
        let halfway = index.partitionSnapshot()
        let known = halfway.knownRanges.filter { $0 != PartitionSnapshot.unknownRange }.count
        #expect(known > 0 && known < halfway.fingerprints.count, "\(known) of \(halfway.fingerprints.count)")
        // The walk above reached the first half of the slots: a snapshot of that half knows
        // every range; once another re-partitioning begins, the rest knows none.
        var begun = index.startPartitionSnapshot()
        _ = index.continuePartitionSnapshot(&begun, slots: index.capacity / 2)
        let firstHalf = begun.fingerprints.count
        index.beginPartition(by: old, snapshot: nil, ranges: [])
        while !index.continuePartitionSnapshot(&begun, slots: 100) {}
        #expect(firstHalf > 0 && firstHalf < begun.fingerprints.count)
        #expect(begun.knownRanges.count == begun.fingerprints.count)
        #expect(begun.knownRanges[..<firstHalf].allSatisfy { $0 != PartitionSnapshot.unknownRange })
        #expect(begun.knownRanges[firstHalf...].allSatisfy { $0 == PartitionSnapshot.unknownRange })
    }

    @Test("a re-partitioning applied a slice at a time, between writes, deletes, removals (entries shifted back) and a growth, equals one on the spot; a second one begun before the first ended finishes it first",
          arguments: [false, true])
    func partitionAppliedInSlices(grows: Bool) {
        let old = HashRing(nodes: (1...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let new = HashRing(nodes: (2...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let index = KeyValueIndex(orderSeed: UInt64.random(in: 0...UInt64.max))
        index.partition(by: old)
        for key in 0..<3_000 { index.apply(put("k\(key)", 5)) }
        let snapshot = index.partitionSnapshot()
        index.beginPartition(by: new, snapshot: snapshot, ranges: KeyValueIndex.ranges(of: snapshot.fingerprints, in: new))
        var round = 0
        while !index.continuePartition(slots: 300) {
            round += 1
            for key in stride(from: round, to: 3_000, by: 97) { index.apply(put("k\(key)", 6)) }
            for key in stride(from: round + 40, to: 3_000, by: 89) { index.apply(LogRecord(version: 7, op: .delete, key: bytes("k\(key)"))) }
            for key in stride(from: round + 20, to: 3_000, by: 83) { _ = index.remove(bytes("k\(key)"), ifVersionAtMost: 5) }
            for key in 0..<(grows && round == 3 ? 3_000 : 5) { index.apply(put("new\(round)-\(key)", 6)) }
        }
        #expect(round > 3 && !index.isPartitionPending)
        expectPartitioned(index, by: new)
        // A change begun while the last one's walk is under way: that walk is finished first.
        index.beginPartition(by: old, snapshot: nil, ranges: [])
        _ = index.continuePartition(slots: 300)
        index.apply(put("between", 6))
        index.beginPartition(by: new, snapshot: nil, ranges: [])
        while !index.continuePartition(slots: 700) { index.apply(put("later\(index.count)", 6)) }
        expectPartitioned(index, by: new)
    }

    @Test("while a slice-wise re-partitioning walks, a write to an entry it has not reached is not judged foreign by the new ring's ranges; new keys and walked entries are")
    func foreignWritesDuringTheWalk() {
        let old = HashRing(nodes: (1...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let new = HashRing(nodes: (2...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let owned = (0..<new.rangeCount).map { new.replicas(ofRange: $0).contains(0) }
        let isForeign = { (key: String) in !owned[new.rangeIndex(forKey: Array(key.utf8))] }
        let index = KeyValueIndex(orderSeed: 7)
        index.partition(by: old)
        let keys = (0..<3_000).map { "k\($0)" }
        for key in keys { index.apply(put(key, 5)) }
        index.beginPartition(by: new, snapshot: nil, ranges: [])
        index.ownedRanges = owned
        for key in keys { index.apply(put(key, 6)) }  // not reached yet: still in their older ranges
        let added = (0..<500).map { "new\($0)" }
        for key in added { index.apply(put(key, 6)) }
        #expect(index.foreignApplied == added.filter(isForeign).count)
        while !index.continuePartition(slots: 256) {}
        let before = index.foreignApplied
        for key in keys { index.apply(put(key, 7)) }
        #expect(index.foreignApplied - before == keys.filter(isForeign).count)
        #expect(keys.filter(isForeign).count > 0)
    }

    /// Every entry's digest counted in its range of `ring`, and every key paged under that range.
    private func expectPartitioned(_ index: KeyValueIndex, by ring: HashRing) {
        var expected = [UInt64](repeating: 0, count: ring.rangeCount)
        for (key, stored) in index.contents() { expected[ring.rangeIndex(forKey: key)] ^= EntryHash.of(key, stored) }
        #expect(index.digests == expected)
        var paged = 0
        for range in 0..<ring.rangeCount {
            var cursor: UInt32? = 0
            while let from = cursor {
                let page = index.page(range: range, from: from, limit: 500)
                paged += page.entries.count
                #expect(page.entries.allSatisfy { ring.rangeIndex(forKey: $0.key) == range })
                cursor = page.next
            }
        }
        #expect(paged == index.count)
    }

    @Test("ranges computed off the loop from a snapshot (whole, or taken a slice at a time between writes), applied after writes, deletes, removals and growth, equal a partition on the spot",
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func partitionFromASnapshot(grows: Bool, sliced: Bool) {
        let old = HashRing(nodes: (1...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let new = HashRing(nodes: (2...5).map { HostPort(host: "n", port: $0) }, vnodesPerNode: 16, replicas: 2)
        let seed = UInt64.random(in: 0...UInt64.max)
        let index = KeyValueIndex(orderSeed: seed)
        index.partition(by: old)
        for key in 0..<3_000 { index.apply(put("k\(key)", 5)) }
        var snapshot = index.startPartitionSnapshot()
        if sliced {
            // Between slices: overwrites, deletes and removals (entries move between slots).
            var round = 0
            while !index.continuePartitionSnapshot(&snapshot, slots: 500) {
                round += 1
                for key in stride(from: round, to: 3_000, by: 97) { index.apply(put("k\(key)", 6)) }
                for key in stride(from: round + 40, to: 3_000, by: 89) { index.apply(LogRecord(version: 7, op: .delete, key: bytes("k\(key)"))) }
                for key in stride(from: round + 20, to: 3_000, by: 83) { _ = index.remove(bytes("k\(key)"), ifVersionAtMost: 5) }
                index.apply(put("slice\(round)", 6))
            }
            #expect(round > 3 && snapshot.nextSlot == index.capacity)
        } else {
            snapshot = index.partitionSnapshot()
        }
        let ranges = KeyValueIndex.ranges(of: snapshot.fingerprints, in: new)
        // Meanwhile (the pool computes): overwrites, deletes, keys removed, new keys (maybe a growth).
        for key in stride(from: 0, to: 3_000, by: 7) { index.apply(put("k\(key)", 8)) }
        for key in stride(from: 1, to: 3_000, by: 11) { index.apply(LogRecord(version: 9, op: .delete, key: bytes("k\(key)"))) }
        for key in stride(from: 2, to: 3_000, by: 13) { _ = index.remove(bytes("k\(key)"), ifVersionAtMost: 5) }
        for key in 0..<(grows ? 3_000 : 200) { index.apply(put("new\(key)", 6)) }
        #expect((index.capacity != snapshot.capacity) == grows)
        index.partition(by: new, snapshot: snapshot, ranges: ranges)
        expectPartitioned(index, by: new)
    }
}
