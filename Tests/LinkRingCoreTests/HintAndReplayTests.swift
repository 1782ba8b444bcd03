// Fast and bounded start-up: a hint file round-trips the index; a hint damaged at any byte,
// cut at any length, or describing another log is refused (the node then replays); replay in
// chunks finds exactly what replay of the whole file finds, reading a bounded amount at a time.

import Testing
@testable import LinkRingCore

@Suite("Hint file and chunked replay")
struct HintAndReplayTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func filledIndex(keys: Int = 200) -> KeyValueIndex {
        let index = KeyValueIndex()
        for key in 0..<keys { index.apply(LogRecord(version: UInt64(key + 1), op: .put, key: bytes("k\(key)"), value: bytes("http://v/\(key)"))) }
        for key in stride(from: 0, to: keys, by: 9) { index.apply(LogRecord(version: 1_000, op: .delete, key: bytes("k\(key)"))) }
        return index
    }

    let table = [HintFile.SegmentIdentity(sequence: 3, bytes: 12_345, tailCRC: 0xABCD)]

    func hint(of index: KeyValueIndex, segments: [HintFile.SegmentIdentity], ids: [UInt16] = [0], chunkBytes: Int = 100) throws -> [UInt8] {
        var file: [UInt8] = []
        try HintFile.write(index, segments: segments, ids: ids, chunkBytes: chunkBytes) { file += $0 }
        return file
    }

    /// As the node loads a hint: its table must be the one expected (the node checks it
    /// against the segments), then the entries load into segment ids `ids`.
    func load(_ file: [UInt8], expecting segments: [HintFile.SegmentIdentity], ids: [UInt16] = [0],
              source: any RecordSource) throws -> (Result<Int, HintFile.HintFailure>, KeyValueIndex) {
        let index = KeyValueIndex(source: source)
        let read = { (range: Range<Int>) in Array(file[range.clamped(to: 0..<file.count)]) }
        switch try HintFile.segments(size: file.count, read: read) {
        case .failure(let failure): return (.failure(failure), index)
        case .success(let found) where found != segments: return (.failure(HintFile.HintFailure(reason: "stale")), index)
        case .success:
            let result = try HintFile.load(size: file.count, read: read, ids: ids, segmentBytes: segments.map(\.bytes), into: index, chunkBytes: 64)
            return (result, index)
        }
    }

    @Test("a hint file loads the same index, without reading a record")
    func roundTrip() throws {
        let index = filledIndex()
        let file = try hint(of: index, segments: table)
        #expect(file.count == HintFile.headerBytes + HintFile.segmentBytes + index.count * HintFile.entryBytes + HintFile.trailerBytes)
        let (result, loaded) = try load(file, expecting: table, source: index.source)
        #expect(try result.get() == index.count)
        #expect(loaded.contents() == index.contents())
        #expect(loaded.liveKeys == index.liveKeys && loaded.tombstones == index.tombstones && loaded.recordBytes == index.recordBytes)
        loaded.apply(LogRecord(version: 5_000, op: .put, key: bytes("k1"), value: bytes("http://after")))
        #expect(loaded.lookup(bytes("k1"))?.value == bytes("http://after"), "a loaded index takes writes")
    }

    @Test("entries are written by position in the segment table, and loaded under the ids the segments have now; entries of a segment newer than the table are left out")
    func segmentPositions() throws {
        let memory = RecordsInMemory()
        let index = KeyValueIndex(source: memory)
        var expected: [[UInt8]: UInt16] = [:]
        for key in 0..<30 {
            let segment = UInt16([4, 7, 9][key % 3])
            let record = LogRecord(version: UInt64(key + 1), op: .put, key: bytes("k\(key)"), value: bytes("http://v/\(key)"))
            index.apply(record, at: memory.append(record, segment: segment))
            if segment != 9 { expected[record.key] = segment == 4 ? 1 : 0 }
        }
        let segments = [HintFile.SegmentIdentity(sequence: 1, bytes: 4_000, tailCRC: 1), HintFile.SegmentIdentity(sequence: 2, bytes: 4_000, tailCRC: 2)]
        let file = try hint(of: index, segments: segments, ids: [4, 7])
        // At the next start the two segments have ids 1 and 0; segment 9 (newer) is replayed.
        let moved = RecordsInMemory()
        moved.setSegment(1, memory.segments[4]!)
        moved.setSegment(0, memory.segments[7]!)
        let (result, loaded) = try load(file, expecting: segments, ids: [1, 0], source: moved)
        #expect(try result.get() == 20)
        var found: [[UInt8]: UInt16] = [:]
        loaded.forEachEntry { entry in
            if let record = moved.record(at: entry.location) { found[record.key] = entry.segment }
        }
        #expect(found == expected)
    }

    @Test("a hint damaged at any byte, or cut at any length, is refused")
    func corruptionAtEveryByte() throws {
        let index = filledIndex(keys: 40)
        let segments = [HintFile.SegmentIdentity(sequence: 1, bytes: 999, tailCRC: 7), HintFile.SegmentIdentity(sequence: 2, bytes: 999, tailCRC: 8)]
        let file = try hint(of: index, segments: segments, ids: [0, 1])
        for position in file.indices {
            var damaged = file
            damaged[position] ^= 0x01
            let (result, _) = try load(damaged, expecting: segments, ids: [0, 1], source: index.source)
            guard case .failure = result else {
                Issue.record("a flipped bit at byte \(position) was not noticed")
                continue
            }
        }
        for length in 0..<file.count {
            let (result, _) = try load(Array(file.prefix(length)), expecting: segments, ids: [0, 1], source: index.source)
            guard case .failure = result else {
                Issue.record("a hint cut at \(length) bytes was used")
                continue
            }
        }
    }

    @Test("entries past the bytes the table describes are left out (replayed at start-up); a hint holding one anyway is refused")
    func entryPastSegment() throws {
        let index = filledIndex(keys: 10)
        let short = [HintFile.SegmentIdentity(sequence: 1, bytes: 80, tailCRC: 0)]
        let (result, loaded) = try load(try hint(of: index, segments: short), expecting: short, source: index.source)
        let within = (try? result.get()) ?? -1
        #expect(within >= 1 && within < index.count)
        loaded.forEachEntry { #expect(Int($0.offset) + Int($0.length) <= 80) }
        // A hint written over a longer segment, its table then edited to 80 bytes (CRC fixed up).
        var file = try hint(of: index, segments: [HintFile.SegmentIdentity(sequence: 1, bytes: 100_000, tailCRC: 0)])
        file.replaceSubrange(16..<24, with: HintFile.header(segments: short)[16..<24])
        let body = file.count - HintFile.trailerBytes
        file.replaceSubrange(body..<file.count, with: HintFile.trailer(entries: index.count, crc: CRC32C.checksum(file, 0..<body)))
        let (edited, _) = try load(file, expecting: short, source: index.source)
        #expect(throws: HintFile.HintFailure.self) { try edited.get() }
    }

    @Test("replay in chunks finds what replay of the whole file finds, and reads a bounded amount at a time", arguments: [1, 4096, 1 << 20])
    func chunkedReplay(chunkBytes: Int) {
        var log = LogRecord.fileMagic
        for key in 0..<6_000 {
            LogRecord(version: UInt64(key), op: .put, key: bytes("key-\(key % 2_500)"), value: bytes("http://example.com/\(key)")).encode(into: &log)
        }
        let corruptAt = log.count / 3
        log[corruptAt + 1] ^= 0xFF  // inside a record: corruption in the middle
        log += [0xA5, 1, 0]  // a torn tail
        var whole: [(LogRecord, Int)] = []
        let expected = LogReplay.replayWithOffsets(log, skipCorrupt: true) { whole.append(($0, $1)) }
        var chunked: [(LogRecord, Int)] = []
        var largestRead = 0
        let result = LogReplay.replay(size: log.count, chunkBytes: chunkBytes, skipCorrupt: true, read: { range in
            largestRead = max(largestRead, range.count)
            return Array(log[range])
        }) { chunked.append(($0, $1)) }
        #expect(result == expected)
        #expect(chunked.count == whole.count && zip(chunked, whole).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        #expect(largestRead <= max(chunkBytes, ReplayWindow.recordBytesMax))
        guard case .success(let report) = result else {
            Issue.record("replay failed")
            return
        }
        #expect(report.skipped.count == 1 && report.tornTail != nil)
    }
}
