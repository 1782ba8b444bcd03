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

    func hint(of index: KeyValueIndex, log: HintFile.LogIdentity, chunkBytes: Int = 100) throws -> [UInt8] {
        var file: [UInt8] = []
        try HintFile.write(index, log: log, chunkBytes: chunkBytes) { file += $0 }
        return file
    }

    func load(_ file: [UInt8], log: HintFile.LogIdentity, source: any RecordSource) throws -> (Result<Int, HintFile.HintFailure>, KeyValueIndex) {
        let index = KeyValueIndex(source: source)
        let result = try HintFile.load(size: file.count, read: { Array(file[$0]) }, describing: log, segment: 0, into: index, chunkBytes: 64)
        return (result, index)
    }

    @Test("a hint file loads the same index, without reading a record")
    func roundTrip() throws {
        let index = filledIndex()
        let log = HintFile.LogIdentity(logBytes: 12_345, tailCRC: 0xABCD)
        let file = try hint(of: index, log: log)
        #expect(file.count == HintFile.headerBytes + index.count * HintFile.entryBytes + 4)
        let (result, loaded) = try load(file, log: log, source: index.source)
        #expect(try result.get() == index.count)
        #expect(loaded.contents() == index.contents())
        #expect(loaded.liveKeys == index.liveKeys && loaded.tombstones == index.tombstones && loaded.recordBytes == index.recordBytes)
        loaded.apply(LogRecord(version: 5_000, op: .put, key: bytes("k1"), value: bytes("http://after")))
        #expect(loaded.lookup(bytes("k1"))?.value == bytes("http://after"), "a loaded index takes writes")
    }

    @Test("a hint damaged at any byte, or cut at any length, is refused")
    func corruptionAtEveryByte() throws {
        let index = filledIndex(keys: 40)
        let log = HintFile.LogIdentity(logBytes: 999, tailCRC: 7)
        let file = try hint(of: index, log: log)
        for position in file.indices {
            var damaged = file
            damaged[position] ^= 0x01
            let (result, _) = try load(damaged, log: log, source: index.source)
            guard case .failure = result else {
                Issue.record("a flipped bit at byte \(position) was not noticed")
                continue
            }
        }
        for length in 0..<file.count {
            let (result, _) = try load(Array(file.prefix(length)), log: log, source: index.source)
            guard case .failure = result else {
                Issue.record("a hint cut at \(length) bytes was used")
                continue
            }
        }
    }

    @Test("a hint of another log (length, or last bytes) is stale")
    func staleHint() throws {
        let index = filledIndex(keys: 10)
        let file = try hint(of: index, log: HintFile.LogIdentity(logBytes: 500, tailCRC: 1))
        for other in [HintFile.LogIdentity(logBytes: 501, tailCRC: 1), HintFile.LogIdentity(logBytes: 500, tailCRC: 2)] {
            let (result, _) = try load(file, log: other, source: index.source)
            #expect(throws: HintFile.HintFailure.self) { try result.get() }
        }
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
