// When a node rewrites its log: once the file is at least `minLogBytes` long and more than
// `growthRatio` times the bytes its live records need (the index's `recordBytes`: one record
// per key, tombstones included). Overwrites and deletes make the log grow while the data does
// not; without a rewrite, replay time and disk use would grow with uptime (DESIGN section 6).

package struct CompactionPolicy: Sendable, Equatable {
    var minLogBytes = Limits.compactionLogBytesMinDefault
    var growthRatio = Limits.compactionGrowthRatioDefault

    package init(minLogBytes: Int = Limits.compactionLogBytesMinDefault, growthRatio: Int = Limits.compactionGrowthRatioDefault) {
        self.minLogBytes = minLogBytes
        self.growthRatio = growthRatio
    }

    package func shouldCompact(logBytes: Int, recordBytes: Int) -> Bool {
        logBytes >= minLogBytes && logBytes > growthRatio * (recordBytes + LogRecord.fileMagic.count)
    }
}
