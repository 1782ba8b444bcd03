// The Store's rules on a log in memory and an injected wall clock: a record reaches the index
// only once its log says it is durable; a failed write changes nothing; a superseded write is
// done at once without touching the log; a version too far ahead is refused and counted; a
// far-future entry yields to the next acceptable write through a `forget` logged first; and
// the clock mints versions above everything it found stored.

import Testing
@testable import Node
import LinkRingCore

/// A log that holds submitted records until the test says how their batch ended; durable
/// records land in `records`, which the index reads back.
final class LogInMemory: RecordLog {
    var submitted: [LogRecord] = []
    let records = RecordsInMemory()
    private var waiters: [(record: LogRecord, done: (RecordLocation?) -> Void)] = []
    var acceptsWrites = true
    var isWritable = true
    var sizeBytes = 0

    func submit(_ record: LogRecord, done: @escaping (RecordLocation?) -> Void) {
        submitted.append(record)
        waiters.append((record, done))
    }

    /// Ends the batch of everything submitted so far, in log order.
    func finishBatch(durable: Bool) {
        let batch = waiters
        waiters.removeAll()
        for (record, done) in batch { done(durable ? records.append(record) : nil) }
    }
}

/// Collects the answers a write gets.
final class Answers {
    var values: [Bool] = []
    func record(_ value: Bool) { values.append(value) }
}

@Suite("Store")
struct StoreTests {
    static let nowUnixMs: Int64 = 1_800_000_000_000
    static let key = Array("abc".utf8)

    /// The version a clock with `origin` mints at `unixMs`.
    static func version(atUnixMs unixMs: Int64, origin: UInt64 = 1) -> UInt64 {
        var clock = HybridClock(origin: origin)
        return clock.next(wallClockUnixMs: unixMs)
    }

    static func put(_ value: String, version: UInt64) -> LogRecord {
        LogRecord(version: version, op: .put, key: key, value: Array(value.utf8))
    }

    static func makeStore(holding records: [LogRecord] = [], log: LogInMemory) -> Store {
        let index = KeyValueIndex(source: log.records)
        for record in records { index.apply(record) }
        return Store(index: index, log: log, origin: 2, skew: VersionSkew(skewMsMax: 1_000), wallClockMs: { nowUnixMs })
    }

    @Test("a write reaches the index only once its batch is durable, then it is answered")
    func appliedWhenDurable() {
        let log = LogInMemory()
        let store = Self.makeStore(log: log)
        let answers = Answers()
        store.store(Self.put("https://a.example", version: Self.version(atUnixMs: Self.nowUnixMs))) { answers.record($0) }
        #expect(store.index.lookup(Self.key) == nil)
        #expect(answers.values.isEmpty)
        log.finishBatch(durable: true)
        #expect(store.index.lookup(Self.key)?.value == Array("https://a.example".utf8))
        #expect(answers.values == [true])
    }

    @Test("a failed batch is answered false and leaves the index as it was")
    func failedBatchChangesNothing() {
        let log = LogInMemory()
        let store = Self.makeStore(log: log)
        let answers = Answers()
        store.store(Self.put("https://a.example", version: Self.version(atUnixMs: Self.nowUnixMs))) { answers.record($0) }
        log.finishBatch(durable: false)
        #expect(store.index.lookup(Self.key) == nil)
        #expect(answers.values == [false])
    }

    @Test("a write durable data already supersedes is done at once, without the log")
    func supersededWriteSkipsTheLog() {
        let log = LogInMemory()
        let newer = Self.put("https://new.example", version: Self.version(atUnixMs: Self.nowUnixMs))
        let store = Self.makeStore(holding: [newer], log: log)
        let answers = Answers()
        store.store(Self.put("https://old.example", version: Self.version(atUnixMs: Self.nowUnixMs - 5_000))) { answers.record($0) }
        #expect(answers.values == [true])
        #expect(log.submitted.isEmpty)
        #expect(store.index.lookup(Self.key)?.value == Array("https://new.example".utf8))
    }

    @Test("a version more than the skew ahead is refused, counted, and never logged")
    func farAheadVersionRefused() {
        let log = LogInMemory()
        let store = Self.makeStore(log: log)
        let ahead = Self.version(atUnixMs: Self.nowUnixMs + 5_000)
        #expect(store.refusal(of: ahead, from: "a test") != nil)
        #expect(store.refusal(of: Self.version(atUnixMs: Self.nowUnixMs + 500), from: "a test") == nil)
        #expect(store.versionsRefused == 1)
        let answers = Answers()
        store.store(Self.put("https://a.example", version: ahead)) { answers.record($0) }
        #expect(answers.values == [false])
        #expect(log.submitted.isEmpty)
    }

    @Test("a far-future entry yields to the next acceptable write: a forget is logged first, same batch")
    func farFutureEntryForgotten() {
        let log = LogInMemory()
        let farFuture = Self.version(atUnixMs: Self.nowUnixMs + 3_600_000)
        let store = Self.makeStore(holding: [Self.put("https://future.example", version: farFuture)], log: log)
        let incoming = Self.version(atUnixMs: Self.nowUnixMs)
        let answers = Answers()
        store.store(Self.put("https://now.example", version: incoming)) { answers.record($0) }
        #expect(log.submitted.map(\.op) == [.forget, .put])
        #expect(log.submitted.first?.version == farFuture)
        #expect(store.farFutureReplaced == 1)
        log.finishBatch(durable: true)
        #expect(answers.values == [true])
        #expect(store.index.lookup(Self.key) == StoredValue(version: incoming, value: Array("https://now.example".utf8)))
    }

    @Test("the clock mints versions above every acceptable stored version, and ignores far-future ones")
    func clockObservesStoredVersions() {
        let log = LogInMemory()
        let recent = Self.version(atUnixMs: Self.nowUnixMs + 900)
        let farFuture = Self.version(atUnixMs: Self.nowUnixMs + 3_600_000)
        let other = LogRecord(version: farFuture, op: .put, key: Array("xyz".utf8), value: Array("https://x.example".utf8))
        let store = Self.makeStore(holding: [Self.put("https://a.example", version: recent), other], log: log)
        let minted = store.nextVersion()
        #expect(minted > recent)
        #expect(minted < farFuture)
    }

    static func tombstone(version: UInt64) -> LogRecord {
        LogRecord(version: version, op: .delete, key: key)
    }

    @Test("a conditional DELETE deletes only a live value: nothing or a tombstone held means nothing to write, whatever the versions")
    func liveDeletionNeedsALiveValue() {
        let now = Self.version(atUnixMs: Self.nowUnixMs)
        let earlier = Self.version(atUnixMs: Self.nowUnixMs - 5_000)
        let later = Self.version(atUnixMs: Self.nowUnixMs + 500)
        let log = LogInMemory()
        #expect(Self.makeStore(log: log).liveDeletion(Self.tombstone(version: now)) == .nothingLive, "a key never written")
        for held in [earlier, later] {
            let store = Self.makeStore(holding: [Self.tombstone(version: held)], log: log)
            #expect(store.liveDeletion(Self.tombstone(version: now)) == .nothingLive, "a key deleted at \(held): deleting it again writes nothing")
        }
        #expect(log.submitted.isEmpty)
    }

    @Test("a conditional DELETE over an older live value deletes it; over a newer one it is a 409 with that version")
    func liveDeletionOfValues() {
        let now = Self.version(atUnixMs: Self.nowUnixMs)
        let older = Self.makeStore(holding: [Self.put("https://a.example", version: Self.version(atUnixMs: Self.nowUnixMs - 5_000))],
                                   log: LogInMemory())
        #expect(older.liveDeletion(Self.tombstone(version: now)) == .deletesValue)
        let later = Self.version(atUnixMs: Self.nowUnixMs + 500)
        let newer = Self.makeStore(holding: [Self.put("https://a.example", version: later)], log: LogInMemory())
        #expect(newer.liveDeletion(Self.tombstone(version: now)) == .newerValue(version: later))
        let same = Self.makeStore(holding: [Self.put("https://a.example", version: now)], log: LogInMemory())
        #expect(same.liveDeletion(Self.tombstone(version: now)) == .deletesValue, "at one version a tombstone beats a value")
    }

    @Test("a far-future entry never blocks a conditional DELETE: a far-future value is deleted, a far-future tombstone is nothing to delete")
    func liveDeletionOfFarFutureEntries() {
        let now = Self.version(atUnixMs: Self.nowUnixMs)
        let farFuture = Self.version(atUnixMs: Self.nowUnixMs + 3_600_000)
        let value = Self.makeStore(holding: [Self.put("https://future.example", version: farFuture)], log: LogInMemory())
        #expect(value.liveDeletion(Self.tombstone(version: now)) == .deletesValue)
        let tombstone = Self.makeStore(holding: [Self.tombstone(version: farFuture)], log: LogInMemory())
        #expect(tombstone.liveDeletion(Self.tombstone(version: now)) == .nothingLive)
    }
}
