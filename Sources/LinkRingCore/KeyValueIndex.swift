// The in-memory index of a node: per key, the value with the highest version (a
// last-writer-wins register). A delete is a tombstone with its version, so an older PUT that
// arrives later (replication, replay, repair) can never resurrect the key. Applying the same
// record twice, or records in any order, gives the same index.

public struct StoredValue: Sendable, Equatable {
    public var version: UInt64
    /// Nil for a tombstone.
    public var value: [UInt8]?

    public init(version: UInt64, value: [UInt8]?) {
        self.version = version
        self.value = value
    }
}

public struct KeyValueIndex: Sendable {
    public private(set) var entries: [[UInt8]: StoredValue] = [:]
    public private(set) var liveKeys = 0
    public private(set) var tombstones = 0

    public init() {}

    public func lookup(_ key: [UInt8]) -> StoredValue? { entries[key] }

    /// Keeps `incoming` if it is newer than what the key has; returns whether it was kept.
    /// One hash lookup in the common case (a new key or a newer version); an older version,
    /// which is rare, is swapped back.
    @discardableResult
    public mutating func apply(key: [UInt8], _ incoming: StoredValue) -> Bool {
        guard let previous = entries.updateValue(incoming, forKey: key) else {
            count(incoming, sign: 1)
            return true
        }
        guard incoming.version > previous.version else {
            entries[key] = previous
            return false
        }
        count(previous, sign: -1)
        count(incoming, sign: 1)
        return true
    }

    /// Makes room for about `keys` keys at once (replay knows roughly how many are coming).
    public mutating func reserveCapacity(_ keys: Int) {
        entries.reserveCapacity(keys)
    }

    public mutating func apply(_ record: LogRecord) {
        apply(key: record.key, StoredValue(version: record.version, value: record.op == .put ? record.value : nil))
    }

    private mutating func count(_ value: StoredValue, sign: Int) {
        if value.value == nil { tombstones += sign } else { liveKeys += sign }
    }
}
