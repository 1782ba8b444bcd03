// The node's data: the in-memory index, the commit log under it, the hybrid clock that mints
// and observes versions, and the version-skew rules. Created once by `NodeServer` and handed
// to the router (client and internal writes, reads), to anti-entropy (repair) and to the
// compactor; it refers to none of them.
//
//   store(record) ─▶ refuse a version too far ahead of the wall clock (false) ─▶ a far-future
//   entry held for the key is forgotten first (a `forget` record, same batch) ─▶ a record
//   durable data already supersedes is done at once (true) ─▶ RecordLog.submit ─▶ durable:
//   applied to the index, then `done(true)`; failed: `done(false)`, nothing applied
//
// A conditional DELETE asks `liveDeletion` first: a tombstone is stored only over a live value.
//
// Reads go straight to `index` (the router's GET path costs one lookup and one pread of the
// record, KeyValueIndex.swift): it holds durable data only, so a read never returns what a
// crash could take back. The log tells the Store where each durable record is; the index
// keeps that location and reads keys and values back from the log.
//
// The log is reached through `RecordLog`, so these rules are tested with a log in memory
// (Tests/NodeTests); the clock is injected for the same reason.

import LinkRingCore
import LinkRingServer
import LinkRingUV

/// What the store needs of its log: CommitLog in the node, a log in memory in tests.
protocol RecordLog: AnyObject {
    /// Queues `record`; `done(location)` once it is durable (where it is in the log, for the
    /// index), `done(nil)` if it failed.
    func submit(_ record: LogRecord, done: @escaping (RecordLocation?) -> Void)
    /// False once the log failed for good: writes are refused until a restart.
    var acceptsWrites: Bool { get }
    /// False while writes fail (for good, or until a batch succeeds again).
    var isWritable: Bool { get }
    var sizeBytes: Int { get }
}

/// What a conditional DELETE does with the entry its key holds (`Store.liveDeletion`).
enum LiveDeletion: Equatable {
    /// Nothing, or a tombstone, is held: nothing to write, the answer is "absent".
    case nothingLive
    /// A live value newer than the tombstone is held (409): the proxy re-mints and retries.
    case newerValue(version: UInt64)
    /// An older live value is held: the tombstone is written ("existed").
    case deletesValue
}

final class Store {
    let index: KeyValueIndex
    private var clock: HybridClock
    let skew: VersionSkew
    private let log: any RecordLog
    private let wallClockMs: () -> Int64
    /// Writes refused because their version was too far ahead, and far-future entries replaced.
    private(set) var versionsRefused = 0
    private(set) var farFutureReplaced = 0
    private var refusals = RepeatedFailureReport()
    private var replacements = RepeatedFailureReport()
    /// Told the key of every record made durable and applied (a node's handoff, while data
    /// moves, sends such keys on: Handoff.swift).
    var onApplied: (([UInt8]) -> Void)?
    /// MonotonicClock time of the last handoff batch received (a membership move streams data here).
    var lastHandoffReceivedMs: UInt64?

    /// A handoff batch came within the last Limits.repairPauseWhileHandoffMs.
    func isReceivingHandoff(nowMs: UInt64) -> Bool {
        lastHandoffReceivedMs.map { nowMs < $0 + Limits.repairPauseWhileHandoffMs } ?? false
    }

    init(index: KeyValueIndex, log: any RecordLog, origin: UInt64, skew: VersionSkew,
         wallClockMs: @escaping () -> Int64 = WallClock.nowMs) {
        self.index = index
        self.log = log
        self.clock = HybridClock(origin: origin, skew: skew)
        self.skew = skew
        self.wallClockMs = wallClockMs
        observeStoredVersions()
    }

    var acceptsWrites: Bool { log.acceptsWrites }
    var isWritable: Bool { log.isWritable }
    var logSizeBytes: Int { log.sizeBytes }
    /// This host's wall clock, and the highest version minted or accepted here: what /_/health
    /// tells the proxies, which mint on the nodes' clocks (ClusterClock).
    var wallClockNowMs: Int64 { wallClockMs() }
    var versionClock: UInt64 { clock.latest }

    /// Moves the clock past every stored version it may observe, and says which entries are
    /// too far ahead of the wall clock to be (they yield to the next write of their key).
    private func observeStoredVersions() {
        let now = wallClockMs()
        var farAhead = 0
        var example: IndexEntry?
        index.forEachEntry { entry in
            guard !clock.observe(entry.version, wallClockUnixMs: now) else { return }
            farAhead += 1
            if example == nil { example = entry }
        }
        guard let example else { return }
        let key = index.source.record(at: example.location)?.key ?? []
        Log.warning("\(farAhead) key(s) hold a version more than \(skew.skewMsMax) ms ahead of this host's clock, "
            + "e.g. '\(String(decoding: key, as: UTF8.self))' at \(VersionSkew.aheadMs(of: example.version, wallClockUnixMs: now)) ms "
            + "ahead: written before versions were bounded, or the clock stepped back. The next write of each key replaces it "
            + "(docs/OPERATIONS.md, \"Versions from the future\").")
    }

    /// A version newer than every version this node has minted or accepted (public writes).
    func nextVersion() -> UInt64 {
        clock.next(wallClockUnixMs: wallClockMs())
    }

    /// `current`'s version when that entry (the one held for `record`'s key) beats `record`
    /// (VersionOrder), else nil. An entry too far ahead of the wall clock beats nothing: `store`
    /// replaces it (a `forget` first), so it must not turn a write away either.
    func newerVersion(held current: StoredValue?, than record: LogRecord) -> UInt64? {
        guard let current, skew.accepts(current.version, wallClockUnixMs: wallClockMs()),
              current.isNewer(than: StoredValue(record)) else { return nil }
        return current.version
    }

    /// What a conditional DELETE (`if=live`) of `record`'s key does: a tombstone is written only
    /// over a live value, so a DELETE of a key held nowhere leaves nothing (docs/DECISIONS.md,
    /// "Tombstones only over values"). The node's public DELETE follows the same rule.
    func liveDeletion(_ record: LogRecord) -> LiveDeletion {
        let current = index.lookup(record.key)
        guard current?.value != nil else { return .nothingLive }
        if let newer = newerVersion(held: current, than: record) { return .newerValue(version: newer) }
        return .deletesValue
    }

    /// Makes `record` durable and applies it, unless durable data already supersedes it;
    /// `done(true)` then. Used by client writes and by repair alike, after `refusal(of:)`.
    func store(_ record: LogRecord, done: @escaping (Bool) -> Void) {
        let now = wallClockMs()
        guard clock.observe(record.version, wallClockUnixMs: now) else { return done(false) }
        if let current = index.lookup(record.key) {
            if !skew.accepts(current.version, wallClockUnixMs: now) {
                forget(record.key, current.version, replacedBy: record.version, nowUnixMs: now)
            } else if !StoredValue(record).isNewer(than: current) {
                return done(true)
            }
        }
        submit(record, done: done)
    }

    /// Logs `record`; once its batch is durable, applies it to the index and then calls `done`.
    /// Records of a batch are applied and answered in log order, each before its own answer.
    private func submit(_ record: LogRecord, done: @escaping (Bool) -> Void) {
        log.submit(record) { location in
            if let location {
                self.index.apply(record, at: location)
                self.onApplied?(record.key)
            }
            done(location != nil)
        }
    }

    /// Stores the records a peer sent (repair, handoff), each unless `refusal(of:)` refuses its
    /// version; then `done(records stored, whether every one became durable)`.
    func storeFromPeer(_ records: [LogRecord], source: @escaping @autoclosure () -> String, done: @escaping (Int, Bool) -> Void) {
        let accepted = records.filter { refusal(of: $0.version, from: source()) == nil }
        guard !accepted.isEmpty else { return done(0, true) }
        var waiting = accepted.count
        var stored = 0
        var allDurable = true
        for record in accepted {
            store(record) { durable in
                if durable { stored += 1 } else { allDurable = false }
                waiting -= 1
                if waiting == 0 { done(stored, allDurable) }
            }
        }
    }

    /// Set while the index's ranges for a new membership are computed off the loop: digests
    /// and key pages are still the old ring's, so peers are answered "busy" meanwhile.
    var isPartitioning = false

    /// Keeps digests and key lists per key range of `ring` from now on (a new membership).
    func partition(by ring: HashRing) {
        index.partition(by: ring)
    }

    /// Logs a `forget` of `key`'s far-future entry, in the same batch as the write that replaces it.
    private func forget(_ key: [UInt8], _ version: UInt64, replacedBy incoming: UInt64, nowUnixMs: Int64) {
        farFutureReplaced += 1
        let line = "key '\(String(decoding: key, as: UTF8.self))' held version \(version), "
            + "\(VersionSkew.aheadMs(of: version, wallClockUnixMs: nowUnixMs)) ms ahead of this host's clock: replaced by version \(incoming)"
        Log.failure(&replacements, nowMs: MonotonicClock.nowMs(), level: .warning, first: line) { more, seconds in
            line + " (\(more) far-future entries replaced in the last \(seconds) s)"
        }
        submit(LogRecord(version: version, op: .forget, key: key)) { _ in }
    }

    /// Nil when `version` may be accepted, else why not (too far ahead of this node's clock).
    func refusal(of version: UInt64, from source: @autoclosure () -> String) -> String? {
        let aheadMs = VersionSkew.aheadMs(of: version, wallClockUnixMs: wallClockMs())
        guard aheadMs > skew.skewMsMax else { return nil }
        let reason = "version \(version) is \(aheadMs) ms ahead of this node's clock (limit \(skew.skewMsMax) ms, --clock-skew-ms): "
            + "check NTP on the sender's host and this one"
        noteRefused(1, "refused a version from \(source()): \(reason)")
        return reason
    }

    /// Counts `count` refused versions and logs `message`: the first at once, then at most one
    /// line per `Limits.repeatedFailureLogIntervalMs` with the count since the last.
    func noteRefused(_ count: Int, _ message: String) {
        versionsRefused += count
        Log.failure(&refusals, count: count, nowMs: MonotonicClock.nowMs(), first: message) { more, seconds in
            message + " (\(more) refused in the last \(seconds) s)"
        }
    }
}
