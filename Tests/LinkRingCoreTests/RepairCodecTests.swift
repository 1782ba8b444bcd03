// Repair building blocks: per-range digests that depend only on the (key, version) set, the
// repair bodies' codecs, which differing ranges a turn pages, the diff of a key page against
// an index, and query numbers.

import Testing
@testable import LinkRingCore

@Suite("Repair: digests and codecs")
struct RepairCodecTests {
    let ring = HashRing(nodes: fourNodes, vnodesPerNode: 16, replicas: 2)

    func records(_ count: Int, version: UInt64 = 100) -> [LogRecord] {
        (0..<count).map { LogRecord(version: version + UInt64($0), op: $0 % 7 == 0 ? .delete : .put, key: bytes("k\($0)"), value: bytes("http://v/\($0)")) }
    }

    @Test("a turn pages only the ranges that differed in both compares; none differing ends it at once")
    func differingRangesConfirmed() {
        var turn = DifferingRanges()
        #expect(turn.compared([]) == .done)
        #expect(turn.compared([3, 5, 9]) == .compareAgain)
        // 3 settled (a write in flight), 7 began differing since: neither is paged.
        #expect(turn.compared([5, 7, 9]) == .page([5, 9]))
        // The next compare is a first one again.
        #expect(turn.compared([7]) == .compareAgain)
        #expect(turn.compared([]) == .page([]))
        #expect(turn.compared([1]) == .compareAgain)
        turn.reset()
        #expect(turn.compared([2]) == .compareAgain)
        #expect(turn.compared([2]) == .page([2]))
    }

    @Test("digests depend only on the set of (key, version), not on arrival order or duplicates")
    func digestsAreOrderFree() {
        let all = records(500)
        let forward = KeyValueIndex()
        forward.partition(by: ring)
        for record in all { forward.apply(record) }
        let backward = KeyValueIndex()
        for record in all.reversed() + all { backward.apply(record) }
        backward.partition(by: ring)  // partitioned after the fact: the same digests
        #expect(forward.digests == backward.digests)
        #expect(forward.count == 500)
        let newer = KeyValueIndex()
        newer.partition(by: ring)
        for record in all { newer.apply(record) }
        newer.apply(LogRecord(version: 10_000, op: .put, key: bytes("k3"), value: bytes("http://new")))
        let range = ring.rangeIndex(forKey: bytes("k3"))
        #expect(newer.digests[range] != forward.digests[range])
        #expect(zip(newer.digests, forward.digests).enumerated().allSatisfy { $0.offset == range || $0.element.0 == $0.element.1 })
        let before = forward.digests
        forward.apply(LogRecord(version: 1, op: .put, key: bytes("k3"), value: bytes("http://old")))
        #expect(forward.digests == before, "an older write changes nothing")
    }

    @Test("the codecs round trip, and refuse truncated or foreign bodies")
    func codecs() throws {
        let id = SyncCodec.ringID(ring)
        let digests = (0..<ring.rangeCount).map { UInt64($0) * 0x1234_5678_9ABC }
        let encoded = SyncCodec.encodeDigests(ringID: id, digests)
        #expect(SyncCodec.decodeDigests(encoded, ringID: id, rangeCount: ring.rangeCount) == digests)
        #expect(SyncCodec.decodeDigests(encoded, ringID: id ^ 1, rangeCount: ring.rangeCount) == nil)
        #expect(SyncCodec.decodeDigests(Array(encoded.dropLast()), ringID: id, rangeCount: ring.rangeCount) == nil)
        #expect(SyncCodec.ringID(HashRing(nodes: fourNodes, vnodesPerNode: 16, replicas: 3)) != id)

        let page = [SyncCodec.KeyVersion(key: bytes("a"), version: 7, tieBreak: 9),
                    SyncCodec.KeyVersion(key: bytes("bb"), version: UInt64.max, tieBreak: UInt64.max)]
        let decoded = try #require(SyncCodec.decodeKeysPage(SyncCodec.encodeKeysPage(next: 42, page)))
        #expect(decoded.next == 42 && decoded.entries == page)
        #expect(SyncCodec.decodeKeysPage(Array(SyncCodec.encodeKeysPage(next: 1, page).dropLast())) == nil)

        let keys = [bytes("x"), bytes("yz")]
        let keyBody = SyncCodec.encodeKeys(keys)
        #expect(SyncCodec.decodeKeys(keyBody, 0..<keyBody.count) == keys)
        #expect(SyncCodec.decodeKeys(keyBody, 0..<keyBody.count - 1) == nil)

        var recordBody: [UInt8] = []
        for record in records(5) { record.encode(into: &recordBody) }
        #expect(SyncCodec.decodeRecords(recordBody) == records(5))
        recordBody[recordBody.count - 1] ^= 1
        #expect(SyncCodec.decodeRecords(recordBody) == nil, "a record failing its CRC is refused")
    }

    @Test("a page diff asks only for keys missing or older here")
    func missingKeys() {
        let index = KeyValueIndex()
        index.apply(LogRecord(version: 5, op: .put, key: bytes("same"), value: bytes("v")))
        index.apply(LogRecord(version: 5, op: .put, key: bytes("older"), value: bytes("v")))
        index.apply(LogRecord(version: 9, op: .put, key: bytes("newer"), value: bytes("v")))
        let same = index.lookup(bytes("same"))!.tieBreak
        let page = [SyncCodec.KeyVersion(key: bytes("same"), version: 5, tieBreak: same),
                    SyncCodec.KeyVersion(key: bytes("older"), version: 6, tieBreak: same),
                    SyncCodec.KeyVersion(key: bytes("newer"), version: 8, tieBreak: same),
                    SyncCodec.KeyVersion(key: bytes("absent"), version: 1, tieBreak: same)]
        let diff = SyncCodec.diff(page, against: index, skew: VersionSkew(), wallClockUnixMs: Int64.max / 2)
        #expect(diff.wanted == [bytes("older"), bytes("absent")] && diff.refused.isEmpty)
        #expect(index.record(for: bytes("newer")) == LogRecord(version: 9, op: .put, key: bytes("newer"), value: bytes("v")))
    }

    @Test("numeric query parameters in a fixed order")
    func queryNumbers() {
        func parse(_ text: String) -> [UInt64]? {
            let buffer = bytes(text)
            return QueryNumbers.parse(buffer, 0..<buffer.count, names: ["r", "from"])
        }
        #expect(parse("r=12&from=3400") == [12, 3400])
        for bad in ["from=1&r=2", "r=1", "r=1&from=", "r=x&from=1", "r=1&from=2&extra=3", ""] { #expect(parse(bad) == nil, "\(bad)") }
    }
}
