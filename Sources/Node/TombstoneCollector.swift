// The grace-period duties of a node (TombstoneRules.swift, docs/DECISIONS.md "Tombstone
// collection"), both on the node's cron:
//
//   every `Limits.tombstoneSweepIntervalMs`: look at the next `Limits.tombstoneSweepSlotsPerTick`
//     slots of the index and drop each tombstone older than the grace period whose range every
//     replica has confirmed since (AntiEntropy's digest matches) ─▶ the entry leaves the index
//     (and its range's digest); the next compaction leaves its record, and the older records
//     of its key, out of the log
//   every `Limits.aliveStampIntervalMs`: DATA/linkring.alive holds the time (written atomically),
//     so a start after a longer absence than the grace period is caught (`checkStaleData`)
//
// A node without peers confirms every range at once: no replica can hold an older value.

import LinkRingCore
import LinkRingServer
import LinkRingUV

final class TombstoneCollector {
    static let aliveFileName = "linkring.alive"

    private let cron: Cron
    private let index: KeyValueIndex
    private let rules: TombstoneRules
    private let alivePath: String
    /// When every replica of a range last matched this node's digest (nil: not yet).
    private let confirmedUnixMs: (Int) -> Int64?
    private var duties: [CronDuty] = []
    private var cursor = 0
    private(set) var collected = 0

    init(cron: Cron, index: KeyValueIndex, rules: TombstoneRules, dataDirectory: String, confirmedUnixMs: @escaping (Int) -> Int64?) {
        self.cron = cron
        self.index = index
        self.rules = rules
        alivePath = dataDirectory + "/" + Self.aliveFileName
        self.confirmedUnixMs = confirmedUnixMs
    }

    func start() {
        duties.append(cron.every(Limits.tombstoneSweepIntervalMs, "tombstone sweep") { self.sweep(nowUnixMs: WallClock.nowMs()) })
        duties.append(cron.every(Limits.aliveStampIntervalMs, "alive stamp") { Self.stampAlive(self.alivePath) })
    }

    func close() {
        for duty in duties { cron.cancel(duty) }
        duties.removeAll()
        Self.stampAlive(alivePath)
    }

    func sweep(nowUnixMs: Int64) {
        let swept = index.sweep(from: cursor, limit: Limits.tombstoneSweepSlotsPerTick) { entry in
            entry.isTombstone
                && rules.isCollectible(version: entry.version, rangeConfirmedUnixMs: confirmedUnixMs(Int(entry.range)), nowUnixMs: nowUnixMs)
        }
        cursor = swept.next
        collected += swept.removed
    }

    /// Writes the time into the alive file; a failure is logged (the next stamp tries again).
    static func stampAlive(_ path: String) {
        do {
            try FileSystem.writeFileAtomically(path, Array("\(WallClock.nowMs())\n".utf8))
        } catch {
            Log.warning("\(path) not updated: \(error)")
        }
    }

    /// Start-up, for a node with peers: refuses data last alive longer ago than the grace
    /// period, or with `rejoinEmpty` sets its log aside so the node starts empty and refills.
    static func checkStaleData(directory: String, rules: TombstoneRules, rejoinEmpty: Bool) throws {
        let path = directory + "/" + aliveFileName
        guard FileSystem.exists(path), let stamp = Int64(try FileSystem.readTextFile(path).split(separator: "\n").first ?? "") else { return }
        let now = WallClock.nowMs()
        guard rules.isStale(lastAliveUnixMs: stamp, nowUnixMs: now) else { return }
        let days = "\((now - stamp) / 86_400_000).\((now - stamp) % 86_400_000 / 8_640_000)"
        guard rejoinEmpty else {
            throw CommandLineError("\(directory) was last alive \(days) days ago, longer than --tombstone-grace-ms "
                + "(\(rules.graceMs) ms): its peers may have forgotten deletes it never saw, so its data could bring deleted keys back. "
                + "Start with --rejoin-empty (its log is set aside and the node refills from its peers), or move the directory away")
        }
        let suffix = ".stale-\(now)"
        let logs = try FileSystem.listDirectory(directory).filter {
            SegmentLayout.sequence(ofFileName: $0) != nil || $0 == SegmentLayout.legacyLogName
        }
        for name in logs { try FileSystem.rename(directory + "/" + name, to: directory + "/" + name + suffix) }
        try? FileSystem.removeFile(directory + "/" + IndexHint.fileName)
        try FileSystem.syncDirectory(directory)
        Log.warning("\(directory) was last alive \(days) days ago: its \(logs.count) log files set aside as NAME\(suffix), "
            + "starting empty to refill from the peers (--rejoin-empty)")
    }
}
