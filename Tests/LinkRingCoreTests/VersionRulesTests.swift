// The version rules at their boundaries: the clock's last millisecond, the skew bound, equal
// versions from two writers, far-future entries that yield to a `forget`, and the limits that
// must fit each other.

import Testing
@testable import LinkRingCore

private let base: Int64 = 1_795_822_856_000

private func version(unixMs: Int64, counter: UInt64 = 0, origin: UInt64 = 0) -> UInt64 {
    HybridClock.milliseconds(unixMs: unixMs) << 22 | counter << 10 | origin
}

@Suite("Hybrid clock: bounds")
struct ClockBoundTests {
    @Test("at the last millisecond the 42 bits hold, the clock saturates instead of wrapping")
    func saturatesAtTheTop() {
        let lastUnixMs = HybridClock.epochUnixMs + Int64(HybridClock.millisecondsMax)
        var clock = HybridClock(origin: 5)
        var last: UInt64 = 0
        for _ in 0..<(2 * Int(HybridClock.counterMax) + 10) {
            let minted = clock.next(wallClockUnixMs: lastUnixMs)
            #expect(minted >= last, "a version never goes backwards")
            last = minted
        }
        #expect(HybridClock.split(last) == (HybridClock.millisecondsMax, HybridClock.counterMax, 5))
        let pastTheTop = clock.next(wallClockUnixMs: Int64.max)
        #expect(pastTheTop == last, "a wall clock past 2159 saturates too")
    }

    @Test("observe ignores versions beyond the skew bound, so no stray version drags the clock away")
    func observeRefusesTheFarFuture() {
        var clock = HybridClock(origin: 1, skew: VersionSkew(skewMsMax: 1_000))
        for planted in [UInt64.max, HybridClock.millisecondsMax << 22, version(unixMs: base + 1_001)] {
            let observed = clock.observe(planted, wallClockUnixMs: base)
            #expect(!observed)
        }
        let minted = clock.next(wallClockUnixMs: base)
        #expect(HybridClock.unixMs(of: minted) == base, "the clock still follows the wall clock")
        let nearFuture = version(unixMs: base + 1_000, counter: 7)
        let observed = clock.observe(nearFuture, wallClockUnixMs: base)
        let after = clock.next(wallClockUnixMs: base)
        #expect(observed && after > nearFuture)
    }

    @Test("the skew bound: exactly skewMsMax ahead is accepted, one millisecond more is not")
    func skewBoundary() {
        let skew = VersionSkew(skewMsMax: 250)
        #expect(skew.accepts(version(unixMs: base + 250, counter: 4095, origin: 1023), wallClockUnixMs: base))
        #expect(!skew.accepts(version(unixMs: base + 251), wallClockUnixMs: base))
        #expect(skew.accepts(version(unixMs: base - 86_400_000), wallClockUnixMs: base), "old versions are fine")
        #expect(VersionSkew.aheadMs(of: version(unixMs: base + 251), wallClockUnixMs: base) == 251)
        #expect(VersionSkew.aheadMs(of: 1, wallClockUnixMs: base) == 0)
    }

    @Test("a random origin is within the origin bits")
    func randomOrigin() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let origin = HybridClock.randomOrigin(using: &generator)
            #expect(origin < HybridClock.originsMax)
        }
    }
}

@Suite("Equal versions: one deterministic winner")
struct TieBreakTests {
    let key = bytes("k")
    let ring = HashRing(nodes: [HostPort(host: "a", port: 1), HostPort(host: "b", port: 2)], vnodesPerNode: 8, replicas: 2)

    func index(_ records: [LogRecord]) -> KeyValueIndex {
        let index = KeyValueIndex()
        index.partition(by: ring)
        for record in records { index.apply(record) }
        return index
    }

    @Test("two values under one version: every arrival order keeps the same one, and digests agree")
    func sameWinnerInAnyOrder() {
        let a = LogRecord(version: 77, op: .put, key: key, value: bytes("https://a.example/"))
        let b = LogRecord(version: 77, op: .put, key: key, value: bytes("https://b.example/"))
        let ab = index([a, b])
        let ba = index([b, a])
        #expect(ab.lookup(key) == ba.lookup(key))
        #expect(ab.digests == ba.digests)
        let winner = StoredValue(a).isNewer(than: StoredValue(b)) ? a.value : b.value
        #expect(ab.lookup(key)?.value == winner)
    }

    @Test("a digest sees the value: replicas with different values under one version differ")
    func digestSeesContent() {
        let a = index([LogRecord(version: 77, op: .put, key: key, value: bytes("https://a.example/"))])
        let b = index([LogRecord(version: 77, op: .put, key: key, value: bytes("https://b.example/"))])
        #expect(a.digests != b.digests)
    }

    @Test("a tombstone wins a tie; the same record twice changes nothing")
    func tombstoneWinsTies() {
        let put = LogRecord(version: 9, op: .put, key: key, value: bytes("https://a.example/"))
        let delete = LogRecord(version: 9, op: .delete, key: key)
        #expect(index([put, delete]).lookup(key)?.value == nil)
        #expect(index([delete, put]).lookup(key)?.value == nil)
        #expect(index([put, put]).digests == index([put]).digests)
    }

    @Test("a key page diff fetches a same-version entry that wins the tie, not one that loses it")
    func pageDiffUsesTheTieBreak() {
        let held = index([LogRecord(version: 9, op: .put, key: key, value: bytes("https://a.example/"))])
        let mine = held.lookup(key)!.tieBreak
        let higher = SyncCodec.KeyVersion(key: key, version: 9, tieBreak: mine + 1)
        let lower = SyncCodec.KeyVersion(key: key, version: 9, tieBreak: mine - 1)
        #expect(SyncCodec.diff([higher], against: held, skew: VersionSkew(), wallClockUnixMs: base).wanted == [key])
        #expect(SyncCodec.diff([lower], against: held, skew: VersionSkew(), wallClockUnixMs: base).wanted.isEmpty)
    }
}

@Suite("Far-future versions")
struct FarFutureTests {
    let key = bytes("k")
    let skew = VersionSkew(skewMsMax: 1_000)

    @Test("forget turns the named entry into a version-0 tombstone that any write supersedes")
    func forgetThenWrite() {
        let planted = LogRecord(version: UInt64.max, op: .put, key: key, value: bytes("https://planted.example/"))
        let write = LogRecord(version: version(unixMs: base), op: .put, key: key, value: bytes("https://mine.example/"))
        let index = KeyValueIndex()
        index.apply(planted)
        index.apply(write)
        #expect(index.lookup(key)?.value == planted.value, "without a forget the higher version stays")
        index.apply(LogRecord(version: UInt64.max, op: .forget, key: key))
        #expect(index.lookup(key) == StoredValue(version: 0, value: nil))
        #expect(index.liveKeys == 0 && index.tombstones == 1)
        index.apply(write)
        #expect(index.lookup(key)?.value == write.value && index.liveKeys == 1 && index.tombstones == 0)
        index.apply(LogRecord(version: UInt64.max, op: .forget, key: key))
        #expect(index.lookup(key)?.value == write.value, "a forget of another version changes nothing")
    }

    @Test("a log with forget records replays to the same index, and its records round trip")
    func replayOfForget() throws {
        var log = LogRecord.fileMagic
        let records = [
            LogRecord(version: UInt64.max, op: .put, key: key, value: bytes("https://planted.example/")),
            LogRecord(version: UInt64.max, op: .forget, key: key),
            LogRecord(version: version(unixMs: base), op: .put, key: key, value: bytes("https://mine.example/")),
        ]
        for record in records { record.encode(into: &log) }
        var replayed: [LogRecord] = []
        let index = KeyValueIndex()
        let report = try LogReplay.replay(log, skipCorrupt: false) { replayed.append($0); index.apply($0) }.get()
        #expect(replayed == records && report.records == 3)
        #expect(index.lookup(key)?.value == bytes("https://mine.example/"))
    }

    @Test("a page diff refuses the peer's far-future keys and replaces this node's own")
    func pageDiff() {
        let index = KeyValueIndex()
        index.apply(LogRecord(version: UInt64.max, op: .put, key: bytes("mine-far"), value: bytes("https://x.example/")))
        index.apply(LogRecord(version: version(unixMs: base), op: .put, key: bytes("ok"), value: bytes("https://x.example/")))
        let page = [
            SyncCodec.KeyVersion(key: bytes("mine-far"), version: version(unixMs: base - 10), tieBreak: 0),
            SyncCodec.KeyVersion(key: bytes("theirs-far"), version: version(unixMs: base + 1_001), tieBreak: 0),
            SyncCodec.KeyVersion(key: bytes("ok"), version: UInt64.max, tieBreak: 0),
        ]
        let diff = SyncCodec.diff(page, against: index, skew: skew, wallClockUnixMs: base)
        #expect(diff.wanted == [bytes("mine-far")])
        #expect(diff.refused == [bytes("theirs-far"), bytes("ok")])
        let same = [SyncCodec.KeyVersion(key: bytes("mine-far"), version: UInt64.max, tieBreak: 0)]
        #expect(SyncCodec.diff(same, against: index, skew: skew, wallClockUnixMs: base) == SyncCodec.PageDiff(),
                "a far-future entry both sides hold is not worth a log line")
    }
}

@Suite("Limits that must fit each other")
struct LimitRelationTests {
    @Test("the fixed limits fit each other")
    func fixedRelations() {
        #expect(ClusterLimits.brokenRelations().isEmpty)
    }

    @Test("a ring whose digests cannot fit a node's answer is refused, with the largest vnodes that fits")
    func digestsFitTheAnswer() {
        #expect(ClusterLimits.problem(nodes: 4, vnodes: 64) == nil)
        #expect(ClusterLimits.problem(nodes: 32, vnodes: 4096) != nil)
        let largest = Limits.answerBodyBytesMax / 8 / 32 - 1
        #expect(ClusterLimits.problem(nodes: 32, vnodes: largest) == nil)
        #expect(ClusterLimits.problem(nodes: 32, vnodes: largest + 1)?.contains("at most \(largest)") == true)
        #expect(throws: CommandLineError.self) {
            try NodeOptions.parse(["--listen", "127.0.0.1:1", "--data", "/tmp/x", "--hosts", "h", "--vnodes", "4096"],
                                  readFile: { _ in (1...32).map { "127.0.0.1:\($0)" }.joined(separator: "\n") })
        }
    }

    @Test("--clock-skew-ms is read by both executables and bounded")
    func skewOption() throws {
        let node = try #require(try NodeOptions.parse(["--listen", "127.0.0.1:1", "--data", "/tmp/x", "--clock-skew-ms", "250"]))
        #expect(node.skew.skewMsMax == 250)
        let proxy = try #require(try ProxyOptions.parse(["--listen", "127.0.0.1:1", "--hosts", "h"], readFile: { _ in "127.0.0.1:2\n127.0.0.1:3" }))
        #expect(proxy.skew.skewMsMax == Limits.clockSkewMsDefault && proxy.proxyID == nil)
        for bad in ["0", "9", "60001", "x"] {
            #expect(throws: CommandLineError.self) { try NodeOptions.parse(["--listen", "127.0.0.1:1", "--data", "/x", "--clock-skew-ms", bad]) }
        }
    }
}
