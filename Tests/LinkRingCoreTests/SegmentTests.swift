// Log segments: file names, which segment a compaction rewrites, what it keeps (SiftDecision),
// and that a log compacted one segment at a time still replays to exactly the index — with
// records of one key spread over segments, tombstones the collector removed, and forgets.

import Testing
@testable import LinkRingCore

@Suite("Log segments")
struct SegmentTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("segment file names carry a 10-digit sequence number; other names are not segments")
    func names() {
        #expect(SegmentLayout.fileName(1) == "linkring-0000000001.log")
        #expect(SegmentLayout.fileName(4_000_000_000) == "linkring-4000000000.log")
        for sequence: UInt32 in [1, 42, 99_999, UInt32.max] {
            #expect(SegmentLayout.sequence(ofFileName: SegmentLayout.fileName(sequence)) == sequence)
        }
        for name in ["linkring.log", "linkring-0000000001.log.compact", "linkring-1.log", "linkring-0000000000.log",
                     "linkring-00000000x1.log", "linkring-9999999999.log", "linkring.hint", "linkring-0000000001.log.stale-5"] {
            #expect(SegmentLayout.sequence(ofFileName: name) == nil, "\(name)")
        }
    }

    @Test("the sealed segment that gives back the most is rewritten; the active one is sealed first when it gives more; kept bytes do not count")
    func choice() {
        let policy = CompactionPolicy(minLogBytes: 1_000, growthRatio: 2)
        let active = SegmentUsage(id: 9, bytes: 1_000, liveBytes: 900)
        let sealed = [SegmentUsage(id: 1, bytes: 5_000, liveBytes: 1_000), SegmentUsage(id: 2, bytes: 5_000, liveBytes: 200),
                      SegmentUsage(id: 3, bytes: 5_000, liveBytes: 100, keptBytes: 4_000)]
        #expect(policy.choose(sealed: sealed, active: active) == .rewrite(2))
        #expect(policy.choose(sealed: sealed, active: SegmentUsage(id: 9, bytes: 9_000, liveBytes: 100)) == .sealActive)
        #expect(policy.choose(sealed: [], active: SegmentUsage(id: 0, bytes: 9_000, liveBytes: 100)) == .sealActive)
        // Well past the ratio, but everything not live was kept by the last rewrite: nothing to do.
        #expect(policy.choose(sealed: [SegmentUsage(id: 1, bytes: 9_008, liveBytes: 1_000, keptBytes: 8_000)],
                              active: SegmentUsage(id: 2, bytes: 8, liveBytes: 0)) == .nothing)
        // Not past the ratio over the whole log: nothing.
        #expect(policy.choose(sealed: [SegmentUsage(id: 1, bytes: 5_000, liveBytes: 4_000)], active: active) == .nothing)
        #expect(CompactionPolicy(minLogBytes: 1 << 30, growthRatio: 2).choose(sealed: sealed, active: active) == .nothing)
    }

    @Test("what a rewrite keeps: current records; tombstones and forgets that may shadow an older segment; nothing dead in the oldest")
    func siftDecisions() {
        #expect(SiftDecision.of(.put, isCurrent: true, keyHasEntry: true, isOldest: false) == .keep)
        #expect(SiftDecision.of(.delete, isCurrent: true, keyHasEntry: true, isOldest: true) == .keep)
        #expect(SiftDecision.of(.forget, isCurrent: true, keyHasEntry: true, isOldest: false) == .keep)
        #expect(SiftDecision.of(.forget, isCurrent: true, keyHasEntry: true, isOldest: true) == .keepAsDelete)
        #expect(SiftDecision.of(.put, isCurrent: false, keyHasEntry: false, isOldest: false) == .drop)
        #expect(SiftDecision.of(.delete, isCurrent: false, keyHasEntry: true, isOldest: false) == .drop)
        #expect(SiftDecision.of(.delete, isCurrent: false, keyHasEntry: false, isOldest: false) == .keepShadowing)
        #expect(SiftDecision.of(.forget, isCurrent: false, keyHasEntry: true, isOldest: false) == .keepShadowing)
        for op in [LogOp.put, .delete, .forget] {
            #expect(SiftDecision.of(op, isCurrent: false, keyHasEntry: false, isOldest: true) == .drop)
        }
    }

    /// Rewrites `segment` of `memory` as LogCompactor does (same decisions, moves applied).
    func compact(_ segment: UInt16, isOldest: Bool, _ memory: RecordsInMemory, _ index: KeyValueIndex) {
        let old = memory.segments[segment] ?? []
        var rewritten: [UInt8] = []
        var moves: [(UInt64, UInt32, UInt32)] = []
        var offset = 0
        while offset < old.count, case .record(let record, let next) = LogRecord.decode(old, at: offset) {
            let fingerprint = index.fingerprint(of: record.key)
            let isCurrent = index.isCurrent(fingerprint: fingerprint, at: RecordLocation(segment: segment, offset: offset, length: next - offset)!)
            switch SiftDecision.of(record.op, isCurrent: isCurrent, keyHasEntry: index.lookup(record.key) != nil, isOldest: isOldest) {
            case .keep:
                moves.append((fingerprint, UInt32(offset), UInt32(rewritten.count)))
                rewritten += old[offset..<next]
            case .keepAsDelete:
                moves.append((fingerprint, UInt32(offset), UInt32(rewritten.count)))
                LogRecord(version: 0, op: .delete, key: record.key).encode(into: &rewritten)
            case .keepShadowing: rewritten += old[offset..<next]
            case .drop: break
            }
            offset = next
        }
        // The rewrite gets a new id (100 + segment) while the old one is still read, as in the node.
        memory.setSegment(100 + segment, rewritten)
        for (fingerprint, from, to) in moves {
            index.relocate(fingerprint: fingerprint, fromSegment: segment, offset: from, toSegment: 100 + segment, offset: to)
        }
        #expect(index.recordBytes(inSegment: segment) == 0, "nothing points into the old segment any more")
        memory.setSegment(segment, rewritten)
        for (fingerprint, _, to) in moves {
            index.relocate(fingerprint: fingerprint, fromSegment: 100 + segment, offset: to, toSegment: segment, offset: to)
        }
    }

    func replay(_ memory: RecordsInMemory, segments: [UInt16]) -> [[UInt8]: StoredValue] {
        let replayed = KeyValueIndex(source: memory)
        for segment in segments {
            let bytes = memory.segments[segment] ?? []
            var offset = 0
            while offset < bytes.count, case .record(let record, let next) = LogRecord.decode(bytes, at: offset) {
                replayed.apply(record, at: RecordLocation(segment: segment, offset: offset, length: next - offset)!)
                offset = next
            }
        }
        return replayed.contents()
    }

    @Test("compacting any segment, in any order, keeps replay equal to the index (tombstones collected, forgets)", arguments: [
        [UInt16(1)], [2], [1, 0], [0, 2, 1], [2, 0, 1, 0],
    ])
    func compactionKeepsReplay(order: [UInt16]) {
        let memory = RecordsInMemory()
        let index = KeyValueIndex(source: memory)
        var version: UInt64 = 10
        func write(_ record: LogRecord, _ segment: UInt16) {
            index.apply(record, at: memory.append(record, segment: segment))
        }
        for segment: UInt16 in 0...2 {
            for key in 0..<40 {
                version += 1
                switch (key + Int(segment)) % 5 {
                case 0: write(LogRecord(version: version, op: .delete, key: bytes("k\(key)")), segment)
                default: write(LogRecord(version: version, op: .put, key: bytes("k\(key)"), value: bytes("http://v/\(segment)/\(key)")), segment)
                }
            }
        }
        // A far-future version of "f" in segment 0, forgotten and replaced in segment 1.
        write(LogRecord(version: 1 << 62, op: .put, key: bytes("f"), value: bytes("http://future")), 0)
        write(LogRecord(version: 1 << 62, op: .forget, key: bytes("f")), 1)
        write(LogRecord(version: 50, op: .put, key: bytes("f"), value: bytes("http://now")), 1)
        // The collector removes every tombstone from the index (as after the grace period).
        _ = index.sweep(from: 0, limit: index.capacity) { $0.isTombstone }
        let expected = index.contents()
        #expect(replay(memory, segments: [0, 1, 2]) != expected, "the collected tombstones are still in the log")
        for segment in order { compact(segment, isOldest: segment == 0, memory, index) }
        #expect(index.contents() == expected, "the index reads every key at its new place")
        let replayed = replay(memory, segments: [0, 1, 2])
        for (key, value) in expected { #expect(replayed[key] == value, "\(String(decoding: key, as: UTF8.self))") }
        #expect(replayed["f".utf8.map { $0 }]?.value == bytes("http://now"), "the forgotten far-future version stays forgotten")
        for (key, value) in replayed where expected[key] == nil {
            #expect(value.value == nil, "only a collected tombstone may come back, never a value: \(String(decoding: key, as: UTF8.self))")
        }
    }

    @Test("the index counts record bytes per segment, through writes, deletes and relocation")
    func bytesPerSegment() {
        let memory = RecordsInMemory()
        let index = KeyValueIndex(source: memory)
        for key in 0..<50 {
            let record = LogRecord(version: 1, op: .put, key: bytes("k\(key)"), value: bytes("http://v"))
            index.apply(record, at: memory.append(record, segment: 0))
        }
        for key in 0..<20 {
            let record = LogRecord(version: 2, op: .delete, key: bytes("k\(key)"))
            index.apply(record, at: memory.append(record, segment: 3))
        }
        #expect(index.recordBytes(inSegment: 0) + index.recordBytes(inSegment: 3) == index.recordBytes)
        #expect(index.recordBytes(inSegment: 3) == memory.segments[3]!.count)
        #expect(index.recordBytes(inSegment: 7) == 0)
        let before = index.recordBytes(inSegment: 0)
        let fingerprint = index.fingerprint(of: bytes("k30"))
        let place = (0..<memory.segments[0]!.count).first { index.isCurrent(fingerprint: fingerprint, at: RecordLocation(segment: 0, offset: $0, length: 16 + 3 + 8 + 4)!) }!
        #expect(index.relocate(fingerprint: fingerprint, fromSegment: 0, offset: UInt32(place), toSegment: 5, offset: 8))
        #expect(index.recordBytes(inSegment: 5) == 31 && index.recordBytes(inSegment: 0) == before - 31)
        #expect(!index.relocate(fingerprint: fingerprint, fromSegment: 0, offset: UInt32(place), toSegment: 6, offset: 8), "moved once")
    }

    @Test("a walk of the whole hash space sees each entry once, also those whose probe run wraps past the table's end (a hint written in slices)",
          arguments: [1, 3, 1 << 20])
    func walkSeesEachEntryOnce(slotsPerStep: Int) {
        // Fingerprints crowd the top of the hash space: their runs wrap to the table's first slots.
        let index = KeyValueIndex(source: RecordsInMemory()) { key in UInt64.max - UInt64(key.count) - UInt64(key.last ?? 0) % 7 }
        for key in 0..<12 { index.apply(LogRecord(version: 1, op: .put, key: Array("key-\(key)".utf8), value: Array("http://v".utf8))) }
        var seen: [UInt64: Int] = [:]
        var cursor: UInt64? = 0
        while let from = cursor {
            cursor = index.forEachEntry(from: from, slots: slotsPerStep) { seen[$0.fingerprint, default: 0] += 1 }
        }
        var expected: [UInt64: Int] = [:]
        index.forEachEntry { expected[$0.fingerprint, default: 0] += 1 }
        #expect(seen == expected)
    }
}
