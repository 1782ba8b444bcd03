// The append-only log: CRC32C known answers, record round trips, replay of logs cut at every
// byte of the last record, corruption in the middle, and last-writer-wins in any order.

import Testing
@testable import LinkRingCore

func makeLog(_ records: [LogRecord]) -> [UInt8] {
    var log = LogRecord.fileMagic
    for record in records { record.encode(into: &log) }
    return log
}

func replayAll(_ log: [UInt8], skipCorrupt: Bool = false) -> (Result<ReplayReport, ReplayFailure>, [LogRecord]) {
    var seen: [LogRecord] = []
    let result = LogReplay.replay(log, skipCorrupt: skipCorrupt) { seen.append($0) }
    return (result, seen)
}

let sampleRecords: [LogRecord] = [
    LogRecord(version: 100, op: .put, key: bytes("a"), value: bytes("http://one")),
    LogRecord(version: 101, op: .put, key: bytes("b"), value: bytes("http://two/?x=1&y=2")),
    LogRecord(version: 102, op: .delete, key: bytes("a")),
    LogRecord(version: 103, op: .put, key: bytes("c"), value: Array(repeating: 0x78, count: 4096)),
]

@Suite("Log records and replay")
struct LogTests {
    @Test("CRC32C known answers")
    func crcKnownAnswers() {
        #expect(CRC32C.checksum(bytes("123456789")) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        let data = bytes("The quick brown fox jumps over the lazy dog")
        let split = CRC32C.update(CRC32C.checksum(data, 0..<10), data, 10..<data.count)
        #expect(split == CRC32C.checksum(data))
    }

    @Test("records round trip through encode and replay")
    func roundTrip() throws {
        let (result, seen) = replayAll(makeLog(sampleRecords))
        let report = try result.get()
        #expect(seen == sampleRecords && report.records == 4 && report.tornTail == nil && report.skipped.isEmpty)
    }

    @Test("a log cut at every byte of its last record replays exactly the complete records")
    func tornTailAtEveryByte() throws {
        let complete = makeLog(Array(sampleRecords.prefix(3)))
        let full = makeLog(sampleRecords)
        for cut in complete.count..<full.count {
            let (result, seen) = replayAll(Array(full[..<cut]))
            let report = try result.get()
            #expect(seen == Array(sampleRecords.prefix(3)), "cut at \(cut)")
            #expect(report.validBytes == complete.count, "cut at \(cut)")
            #expect(report.tornTail == (cut > complete.count ? complete.count..<cut : nil), "cut at \(cut)")
        }
    }

    @Test("a length field damaged so the record seems to run past the end, with valid records after it, is refused, never truncated")
    func damagedLengthBeforeValidRecords() throws {
        let records = (0..<60).map { LogRecord(version: UInt64(100 + $0), op: .put, key: bytes("k\($0)"), value: bytes("http://v/\($0)")) }
        let log = makeLog(records)
        var offsets: [Int] = []
        _ = LogReplay.replayWithOffsets(log, skipCorrupt: false) { _, offset in offsets.append(offset) }
        for (index, offset) in offsets.enumerated().dropLast() {  // every record but the last: valid ones follow it
            for bit in [7, 15, 23, 31] {  // the value-length field (bytes 4-7), high bits so it runs past the end
                var damaged = log
                damaged[offset + 4 + bit / 8] ^= UInt8(1 << (bit % 8))
                let (result, seen) = replayAll(damaged)
                guard case .failure(let failure) = result else {
                    Issue.record("record \(index), bit \(bit): replayed as \(try result.get()) with \(seen.count) records")
                    continue
                }
                #expect(failure.offset == offset, "record \(index), bit \(bit): \(failure)")
                let (skipped, kept) = replayAll(damaged, skipCorrupt: true)
                #expect(kept.count == records.count - 1 && (try? skipped.get().tornTail) == nil, "record \(index): --skip-corrupt keeps the rest")
            }
        }
    }

    @Test("a corrupt last record, or zeros after the last record, is a torn tail")
    func corruptTail() throws {
        var log = makeLog(sampleRecords)
        log[log.count - 10] ^= 0xFF
        let (result, seen) = replayAll(log)
        #expect(try result.get().tornTail != nil && seen.count == 3)
        let zeros = makeLog(sampleRecords) + [UInt8](repeating: 0, count: 4096)
        let (zeroResult, zeroSeen) = replayAll(zeros)
        #expect(try zeroResult.get().tornTail?.count == 4096 && zeroSeen.count == 4)
    }

    @Test("a batch written into preallocated zeros whose earlier page a machine crash lost: a torn tail in the active segment only")
    func lostPageOfABatch() throws {
        // A batch of records spanning several pages, written over zeros; the page in the middle
        // never reached the disk, so it reads as the zeros it overwrote, and valid records follow.
        let batch = (0..<400).map { LogRecord(version: UInt64(200 + $0), op: .put, key: bytes("k\($0)"), value: bytes("http://example.com/\($0)")) }
        var log = makeLog(batch) + [UInt8](repeating: 0, count: 8192)
        let page = LogReplay.pageBytes
        for offset in page..<(2 * page) { log[offset] = 0 }
        var seen = 0
        let lenient = LogReplay.replay(size: log.count, chunkBytes: 1024, skipCorrupt: false, lostPageEndsLog: true,
                                       read: { Array(log[$0]) }) { _, _ in seen += 1 }
        let report = try lenient.get()
        #expect(report.tornTail?.lowerBound ?? 0 <= page && report.validBytes == report.tornTail?.lowerBound)
        #expect(seen > 0 && seen < batch.count, "the records before the lost page are kept, the rest of the batch dropped")
        // A sealed segment (or a file not written over zeros) refuses the same bytes as corruption.
        guard case .failure = replayAll(log).0 else {
            Issue.record("outside the active segment, bad bytes before valid records are corruption")
            return
        }
        // A new active segment whose header never came after its zeros: empty, to be begun again.
        let blank = [UInt8](repeating: 0, count: 3 * page)
        let fresh = LogReplay.replay(size: blank.count, chunkBytes: 1024, skipCorrupt: false, lostPageEndsLog: true,
                                     read: { Array(blank[$0]) }) { _, _ in }
        #expect(try fresh.get().tornTail == 0..<blank.count)
        guard case .failure = replayAll(blank).0 else {
            Issue.record("outside the active segment a file of zeros is not a log")
            return
        }
        // Bad bytes without a whole zero page before the next record stay corruption, even there.
        var flipped = makeLog(sampleRecords)
        flipped[LogRecord.fileMagic.count + sampleRecords[0].encodedBytes + LogRecord.headerBytes] ^= 0x01
        let strict = LogReplay.replay(size: flipped.count, chunkBytes: 1024, skipCorrupt: false, lostPageEndsLog: true,
                                      read: { Array(flipped[$0]) }) { _, _ in }
        guard case .failure = strict else {
            Issue.record("a flipped byte is corruption, not a lost page")
            return
        }
    }

    @Test("a corrupt record before valid ones stops replay, naming the offset; skipCorrupt skips it")
    func corruptMiddle() throws {
        var log = makeLog(sampleRecords)
        let secondRecord = LogRecord.fileMagic.count + sampleRecords[0].encodedBytes
        log[secondRecord + LogRecord.headerBytes] ^= 0x01  // a key byte of record two
        let (result, _) = replayAll(log)
        guard case .failure(let failure) = result else {
            Issue.record("corruption in the middle must stop replay")
            return
        }
        #expect(failure.offset == secondRecord && failure.reason.contains("checksum"))
        let (skipped, seen) = replayAll(log, skipCorrupt: true)
        let report = try skipped.get()
        #expect(seen == [sampleRecords[0], sampleRecords[2], sampleRecords[3]])
        #expect(report.skipped == [secondRecord..<secondRecord + sampleRecords[1].encodedBytes])
    }

    @Test("replay reports each record's real byte offset, also after a skipped corrupt range")
    func offsetsAfterSkippedCorruption() throws {
        var log = makeLog(sampleRecords)
        var starts: [Int] = []
        var offset = LogRecord.fileMagic.count
        for record in sampleRecords {
            starts.append(offset)
            offset += record.encodedBytes
        }
        log[starts[1] + LogRecord.headerBytes] ^= 0x01  // record two is corrupt
        var reported: [Int] = []
        _ = try LogReplay.replayWithOffsets(log, skipCorrupt: true) { _, offset in reported.append(offset) }.get()
        #expect(reported == [starts[0], starts[2], starts[3]])
    }

    @Test("a file that is not a LinkRing log is refused; a torn file header is a torn tail")
    func fileHeader() throws {
        guard case .failure = replayAll(bytes("NOTALOG!xxxx")).0 else {
            Issue.record("bad header must be refused")
            return
        }
        #expect(try replayAll(Array(LogRecord.fileMagic.prefix(3))).0.get().tornTail == 0..<3)
        #expect(try replayAll([]).0.get() == ReplayReport())
    }

    @Test("older versions never overwrite newer ones, in any order of arrival")
    func lastWriterWins() {
        let writes: [LogRecord] = [
            LogRecord(version: 5, op: .put, key: bytes("k"), value: bytes("v5")),
            LogRecord(version: 9, op: .delete, key: bytes("k")),
            LogRecord(version: 7, op: .put, key: bytes("k"), value: bytes("v7")),
            LogRecord(version: 3, op: .put, key: bytes("j"), value: bytes("j3")),
            LogRecord(version: 4, op: .put, key: bytes("j"), value: bytes("j4")),
        ]
        for permutation in permutations(writes) {
            let index = KeyValueIndex()
            for record in permutation + permutation { index.apply(record) }
            #expect(index.lookup(bytes("k")) == StoredValue(version: 9, value: nil))
            #expect(index.lookup(bytes("j")) == StoredValue(version: 4, value: bytes("j4")))
            #expect(index.liveKeys == 1 && index.tombstones == 1)
            #expect(index.count == 2 && Set(index.contents().keys) == [bytes("k"), bytes("j")])
        }
    }

    @Test("the index knows the bytes of the log records that reproduce it, through overwrites and deletes")
    func recordBytesOfTheIndex() {
        let index = KeyValueIndex()
        var random = SystemRandomNumberGenerator()
        for step in 0..<5_000 {
            let key = bytes("key-\(Int.random(in: 0..<300, using: &random))")
            let version = UInt64.random(in: 1...10_000, using: &random)
            if step % 7 == 0 {
                index.apply(LogRecord(version: version, op: .delete, key: key))
            } else {
                index.apply(LogRecord(version: version, op: .put, key: key, value: bytes(String(repeating: "v", count: step % 90 + 1))))
            }
        }
        var rewritten: [UInt8] = []
        let contents = index.contents()
        for key in contents.keys { index.record(for: key)!.encode(into: &rewritten) }
        #expect(index.recordBytes == rewritten.count)
        #expect(contents.count == index.count, "each key once")
        #expect(index.count == index.liveKeys + index.tombstones)
        let replayed = KeyValueIndex()
        guard case .success = LogReplay.replay(LogRecord.fileMagic + rewritten, skipCorrupt: false, apply: { replayed.apply($0) }) else {
            Issue.record("the rewritten log does not replay")
            return
        }
        #expect(replayed.contents() == contents, "one record per key reproduces the index")
    }

    @Test("compaction starts once the log is long enough and well past its live records", arguments: [
        (1_000, 400, 2, 2_000, false),   // shorter than the minimum
        (10_000, 4_992, 2, 1_000, false), // exactly 2 × (records + file header): not past it
        (10_001, 4_992, 2, 1_000, true),
        (9_999, 1_000, 3, 10_000, false),
        (10_000, 1_000, 3, 10_000, true),
        (64 << 20, 10 << 20, 2, 64 << 20, true),
    ])
    func compactionPolicy(logBytes: Int, recordBytes: Int, ratio: Int, minBytes: Int, expected: Bool) {
        let policy = CompactionPolicy(minLogBytes: minBytes, growthRatio: ratio)
        #expect(policy.shouldCompact(logBytes: logBytes, recordBytes: recordBytes) == expected)
    }
}

func permutations<T>(_ items: [T]) -> [[T]] {
    guard items.count > 1 else { return [items] }
    var result: [[T]] = []
    for (position, item) in items.enumerated() {
        var rest = items
        rest.remove(at: position)
        for tail in permutations(rest) { result.append([item] + tail) }
    }
    return result
}
