// When a node rewrites its log: once the file is at least `minLogBytes` long and more than
// `growthRatio` times the bytes its live records need (the index's `recordBytes`: one record
// per key, tombstones included). Overwrites and deletes make the log grow while the data does
// not; without a rewrite, replay time and disk use would grow with uptime (DESIGN section 6).

public struct CompactionPolicy: Sendable, Equatable {
    public var minLogBytes = 64 * 1024 * 1024
    public var growthRatio = 2

    public init(minLogBytes: Int = 64 * 1024 * 1024, growthRatio: Int = 2) {
        self.minLogBytes = minLogBytes
        self.growthRatio = growthRatio
    }

    public func shouldCompact(logBytes: Int, recordBytes: Int) -> Bool {
        logBytes >= minLogBytes && logBytes > growthRatio * (recordBytes + LogRecord.fileMagic.count)
    }
}
