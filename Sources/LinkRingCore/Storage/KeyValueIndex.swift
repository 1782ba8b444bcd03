// The index of a node: per key, the entry with the highest version (a last-writer-wins
// register), WITHOUT the key or the value. A delete is a tombstone with its version, so an
// older PUT that arrives later (replication, replay, repair) can never resurrect the key.
// Applying the same record twice, or records in any order, gives the same index; two records
// with the same version are ordered by VersionOrder's tie-break on their content. A `forget`
// record turns the entry it names (by version) into a version-0 tombstone, which any write
// supersedes.
//
// Memory: one open-addressing table of fixed-size 32-byte entries in one contiguous array, no
// allocation per key (docs/DECISIONS.md, "A compact index"):
//
//   fingerprint u64   StableHash of the key (the ring's hash too)     ─┐ in RAM
//   version     u64                                                    │
//   offset u32, segment u16, length u16   where the record is (RecordLocation)
//   tieBreakHigh u32  the top 32 bits of VersionOrder's tie-break; all ones = tombstone
//   range       u32   the key's ring range (digests, key pages)      ─┘
//   key, value        in the log only: read back through the RecordSource (one pread)
//
// Slots: a key's home slot is its fingerprint, mixed with a random seed of this index
// (`tableOrder`: the ring uses the same hash, and peers send keys in their own table order),
// scaled to the table (`order × capacity
// >> 64`); probing goes forward (linear, wrapping). Two keys may share a fingerprint: wherever a
// fingerprint matches, the record is read and its key compared, so a collision costs one more
// read and never confuses two keys. The table grows by half once 80 % full
// (`maxLoadPercent`); at 1M keys that is 32 / 0.53…0.8 bytes per key.
//
// With a ring attached (`partition(by:)`) the index also keeps, per key range of the ring, a
// digest: the XOR of EntryHash(fingerprint, version, tie-break) over the range's entries,
// updated in O(1) on every change, so two replicas compare a range by comparing one number.
// Key pages (`page(range:from:limit:)`) list a range in table order; the cursor is the top 32
// bits of a table order, so it stays valid while the table grows and writes go on.
//
// Errors: a record that cannot be read back (I/O error, bad CRC) is counted in `readFailures`
// and the key answers as absent; a fingerprint match that cannot be read is taken as the
// same key (the write replaces it), so one key never gets two entries.

package struct StoredValue: Sendable, Equatable {
    package var version: UInt64
    /// Nil for a tombstone.
    package var value: [UInt8]?

    package init(version: UInt64, value: [UInt8]?) {
        self.version = version
        self.value = value
    }

    /// Whether this entry beats `other` (VersionOrder): a higher version, or the tie-break.
    @inline(__always)
    package func isNewer(than other: StoredValue) -> Bool {
        VersionOrder.isNewer(version, value, than: other.version, other.value)
    }

    var tieBreak: UInt64 { VersionOrder.tieBreak(value: value) }

    /// The entry a record leaves (a forget's is a version-0 tombstone).
    package init(_ record: LogRecord) {
        self.init(version: record.op == .forget ? 0 : record.version, value: record.op == .put ? record.value : nil)
    }
}

/// One slot of the index: 32 bytes, no references.
package struct IndexEntry: Sendable, Equatable {
    package var fingerprint: UInt64 = 0
    package var version: UInt64 = 0
    package var offset: UInt32 = 0
    package var tieBreakHigh: UInt32 = 0
    package var segment: UInt16 = 0
    /// 0 marks an empty slot (every record is longer).
    package var length: UInt16 = 0
    /// The key's ring range, and in the top bit the mark of the re-partitioning that gave it
    /// (KeyValueIndex: while one is applied a slice at a time, it tells the entries done).
    private(set) var rangeBits: UInt32 = 0

    package static let tombstoneTieBreak = UInt32.max
    static let partitionBit: UInt32 = 1 << 31

    package var range: UInt32 {
        get { rangeBits & ~Self.partitionBit }
        set { rangeBits = (rangeBits & Self.partitionBit) | newValue }
    }

    var partitionMark: Bool {
        get { rangeBits & Self.partitionBit != 0 }
        set { rangeBits = newValue ? rangeBits | Self.partitionBit : rangeBits & ~Self.partitionBit }
    }

    /// Takes `other`'s range and mark (a write that replaces an entry keeps its place in the ring).
    mutating func takeRange(of other: IndexEntry) { rangeBits = other.rangeBits }

    package init(fingerprint: UInt64, version: UInt64, tieBreakHigh: UInt32, location: RecordLocation) {
        self.fingerprint = fingerprint
        self.version = version
        self.tieBreakHigh = tieBreakHigh
        self.location = location
    }

    init() {}

    var isEmpty: Bool { length == 0 }
    package var isTombstone: Bool { tieBreakHigh == Self.tombstoneTieBreak }

    package var location: RecordLocation {
        get { RecordLocation(segment: segment, offset: offset, length: length) }
        set {
            segment = newValue.segment
            offset = newValue.offset
            length = newValue.length
        }
    }

    package var digestContribution: UInt64 { EntryHash.of(fingerprint: fingerprint, version: version, tieBreakHigh: tieBreakHigh) }
}

package final class KeyValueIndex {
    package static let maxLoadPercent = 80
    static let minimumCapacity = 16

    private var slots: ContiguousArray<IndexEntry>
    /// The bytes of the last record read (reused: reads allocate nothing).
    private var scratch: [UInt8] = []
    /// Entries held: live keys and tombstones.
    package private(set) var count = 0
    package private(set) var liveKeys = 0
    package private(set) var tombstones = 0
    /// Bytes of the log records the entries point at (one per key, tombstones included).
    package private(set) var recordBytes = 0
    /// The same per segment id: what a compaction of that segment would keep.
    private var segmentRecordBytes: [Int] = []
    /// Records that could not be read back (I/O error or bad CRC).
    package private(set) var readFailures = 0
    package private(set) var ring: HashRing? = nil
    package private(set) var digests: [UInt64] = []
    /// The `IndexEntry.partitionMark` of an entry whose range is in `ring` (and counted in
    /// `digests`): flipped at each re-partitioning, so the entries need no second pass to clear it.
    private var partitionMark = false
    /// Re-partitionings begun: a snapshot takes entries' ranges only while this is unchanged.
    private var partitionsBegun = 0
    /// A re-partitioning applied a slice at a time (`beginPartition`), until its walk ends.
    private var pendingPartition: PendingPartition?
    /// Per range of the ring, whether this node holds it (set by its membership); writes
    /// applied to a range it does not hold are counted in `foreignApplied` (a proxy that still
    /// writes to every membership's replicas: the node waits for them to stop before it
    /// releases those ranges).
    package var ownedRanges: [Bool]? = nil
    package private(set) var foreignApplied = 0
    /// Slots looked at by key pages and cursor walks (their cost, for tests and /_/health).
    package private(set) var slotsWalked = 0
    package let source: any RecordSource
    private let fingerprintOf: ([UInt8]) -> UInt64
    /// This table's own order of fingerprints (`tableOrder`): random per index.
    private let orderSeed: UInt64

    /// An index whose records `source` reads back; `fingerprint` is StableHash (tests force
    /// collisions with another); `orderSeed` picks the table order (random by default).
    package init(source: any RecordSource, fingerprint: @escaping ([UInt8]) -> UInt64 = StableHash.hash,
                 orderSeed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.source = source
        self.fingerprintOf = fingerprint
        self.orderSeed = orderSeed
        slots = ContiguousArray(repeating: IndexEntry(), count: Self.minimumCapacity)
    }

    /// An index over a log in memory (`apply(_:)` appends to it): tests and tools.
    package convenience init(orderSeed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.init(source: RecordsInMemory(), orderSeed: orderSeed)
    }

    package var capacity: Int { slots.count }
    /// Bytes of the table: what the index costs in RAM.
    package var tableBytes: Int { slots.count * MemoryLayout<IndexEntry>.stride }

    package func fingerprint(of key: [UInt8]) -> UInt64 { fingerprintOf(key) }

    /// Where in this table's order a fingerprint falls: a bijective mix of it with this index's
    /// random seed. Not the fingerprint itself: it is the ring's hash too, and a node's keys
    /// bunch in the stretches before its ring points (long probe runs). Not one order shared
    /// by every node either: key pages and handoffs list keys in the sender's table order, and
    /// a table sized for the keys it has so far that receives them in its own home order piles
    /// them all into its first part — one run over the whole table (120k keys took 75 s to
    /// insert instead of 0.2 s; a joining node spent 90 % of a core in `find` and `grow`).
    @inline(__always)
    package func tableOrder(_ fingerprint: UInt64) -> UInt64 { StableHash.mix(fingerprint ^ orderSeed) }

    @inline(__always)
    private func home(_ fingerprint: UInt64) -> Int { home(order: tableOrder(fingerprint)) }

    @inline(__always)
    private func home(order: UInt64) -> Int {
        Int(truncatingIfNeeded: order.multipliedFullWidth(by: UInt64(slots.count)).high)
    }

    @inline(__always)
    private func next(_ slot: Int) -> Int { slot + 1 == slots.count ? 0 : slot + 1 }

    // MARK: reads

    /// Where `key` is: its slot and whether its record could be read (its bytes then in
    /// `scratch`), or the empty slot where it would go. Reads only on a fingerprint match.
    private func find(_ key: [UInt8], _ fingerprint: UInt64) -> (slot: Int, found: Bool, isReadable: Bool) {
        var slot = home(fingerprint)
        while true {
            let entry = slots[slot]
            if entry.isEmpty { return (slot, false, false) }
            if entry.fingerprint == fingerprint {
                guard source.read(entry.location, into: &scratch) else {
                    readFailures += 1
                    return (slot, true, false)
                }
                if LogRecord.holds(key, scratch) { return (slot, true, true) }
            }
            slot = next(slot)
        }
    }

    private static func stored(_ entry: IndexEntry, _ record: LogRecord) -> StoredValue {
        StoredValue(version: entry.version, value: entry.isTombstone ? nil : record.value)
    }

    /// The entry at `slot` with the value of its record, which `find` left in `scratch`.
    private func storedFromScratch(_ slot: Int) -> StoredValue {
        let entry = slots[slot]
        return StoredValue(version: entry.version, value: entry.isTombstone ? nil : LogRecord.value(of: scratch))
    }

    /// `key`'s entry with its value read from the log; nil if absent (or unreadable). One
    /// pread (two keys sharing a fingerprint: one more), one allocation: the value.
    package func lookup(_ key: [UInt8]) -> StoredValue? {
        let found = find(key, fingerprintOf(key))
        guard found.found, found.isReadable else { return nil }
        return storedFromScratch(found.slot)
    }

    /// The record that reproduces `key`'s entry (peers get its bytes: `appendRecord`).
    package func record(for key: [UInt8]) -> LogRecord? {
        guard let stored = lookup(key) else { return nil }
        return LogRecord(version: stored.version, op: stored.value == nil ? .delete : .put, key: key, value: stored.value ?? [])
    }

    /// Appends the bytes of `record(for: key)` to `output`, and returns its version (nil: the
    /// key is absent or unreadable). They are the log's own bytes, read and checksum-verified
    /// by the lookup, when that record is the entry's (its version and op; else it is encoded
    /// again): a handoff or a repair answer sends every key this way, without decoding each
    /// record into a value and encoding it back (allocations and a second checksum; CRC32C fell
    /// from 2.5 to 1.7 % of the nodes' samples during an add).
    package func appendRecord(for key: [UInt8], to output: inout [UInt8]) -> UInt64? {
        let found = find(key, fingerprintOf(key))
        guard found.found, found.isReadable else { return nil }
        let entry = slots[found.slot]
        let op: LogOp = entry.isTombstone ? .delete : .put
        guard LogRecord.op(of: scratch) == op, LogRecord.version(of: scratch) == entry.version else {
            let stored = storedFromScratch(found.slot)
            LogRecord(version: stored.version, op: op, key: key, value: stored.value ?? []).encode(into: &output)
            return stored.version
        }
        output.append(contentsOf: scratch)
        return entry.version
    }

    /// Calls `body` with every entry (versions at start-up, the hint file, tests).
    package func forEachEntry(_ body: (IndexEntry) throws -> Void) rethrows {
        for entry in slots where !entry.isEmpty { try body(entry) }
    }

    /// Every entry with its key and value read from the log: one read per key, for tests and
    /// tools, never for serving.
    package func contents() -> [[UInt8]: StoredValue] {
        var contents: [[UInt8]: StoredValue] = [:]
        forEachEntry { entry in
            if let record = source.record(at: entry.location) { contents[record.key] = Self.stored(entry, record) }
        }
        return contents
    }

    /// The keys (read from the log) whose table order (`tableOrder`) lies in the next stretch
    /// from `cursor`, about `slots` table slots' share of it, and the cursor after it (nil at
    /// the end). A table order is a cursor that stays valid while the table grows and writes
    /// go on: a walk from 0 to the end sees every key present throughout exactly once
    /// (a handoff after a membership change walks the index this way). Only entries that
    /// `isWanted` (by fingerprint, the ring's hash, and range in the attached ring) are read: a
    /// walk that wants the keys of some ranges reads those alone.
    package func keys(from cursor: UInt64, slots width: Int,
                      where isWanted: (_ fingerprint: UInt64, _ range: Int) -> Bool = { _, _ in true }) -> (keys: [[UInt8]], next: UInt64?) {
        var keys: [[UInt8]] = []
        let next = forEachEntry(from: cursor, slots: width) { entry in
            guard isWanted(entry.fingerprint, Int(entry.range)) else { return }
            if let record = source.record(at: entry.location) { keys.append(record.key) } else { readFailures += 1 }
        }
        return (keys, next)
    }

    /// Calls `body` with every entry whose table order (`tableOrder`) lies in the next stretch
    /// from `cursor` (about `slots` table slots' share of it); returns the cursor after it, nil
    /// at the end. A walk from 0 to the end sees every entry present throughout exactly
    /// once, while the table grows and writes go on (key walks, a hint written a slice at a time).
    @discardableResult
    package func forEachEntry(from cursor: UInt64, slots width: Int, _ body: (IndexEntry) -> Void) -> UInt64? {
        let end = Self.stretchEnd(from: cursor, slots: width, capacity: slots.count)
        let last = end.map { $0 == 0 ? UInt64.max : $0 - 1 } ?? UInt64.max
        forEachEntry(orderFrom: cursor, through: last, body)
        return last == UInt64.max ? nil : end
    }

    /// Calls `body` with every entry whose table order (`tableOrder`) is in `low...high`. An
    /// entry lies at or after its home slot with no empty slot between, and homes grow with the
    /// order: the walk starts at `low`'s home and ends at the first empty slot at or after `high`'s.
    private func forEachEntry(orderFrom low: UInt64, through high: UInt64, _ body: (IndexEntry) -> Void) {
        forEachSlot(orderFrom: low, through: high) { body(slots[$0]) }
    }

    /// The slots of those entries (same walk).
    private func forEachSlot(orderFrom low: UInt64, through high: UInt64, _ body: (Int) -> Void) {
        let capacity = slots.count
        let last = home(order: high)
        let first = home(order: low)
        var position = first
        defer { slotsWalked += position - first }
        for _ in 0..<2 * capacity {  // a wrapped run is shorter than the table; the filter below takes each entry once
            let slot = position % capacity
            let entry = slots[slot]
            if entry.isEmpty {
                if position >= last { return }
            } else {
                let order = tableOrder(entry.fingerprint)
                // Each entry once, at the walk's position past its home (a walk longer than the
                // table passes a slot twice; an entry that wrapped sits before its home).
                if order >= low && order <= high {
                    let homeSlot = home(order: order)
                    if (slot >= homeSlot ? slot : slot + capacity) == position { body(slot) }
                }
            }
            position += 1
        }
    }

    // MARK: writes

    /// Keeps `record` (found at `location`) if it is newer than what its key has; returns
    /// whether it changed the index. A forget applies only to the version it names.
    @discardableResult
    package func apply(_ record: LogRecord, at location: RecordLocation) -> Bool {
        let fingerprint = fingerprintOf(record.key)
        var found = find(record.key, fingerprint)
        if record.op == .forget {
            guard found.found, slots[found.slot].version == record.version, record.version != 0 else { return false }
            replace(found.slot, with: Self.entry(fingerprint, StoredValue(record), location))
            return true
        }
        let incoming = StoredValue(record)
        guard found.found else {
            if (count + 1) * 100 > slots.count * Self.maxLoadPercent {
                grow(to: slots.count + slots.count / 2)
                found = find(record.key, fingerprint)
            }
            insert(Self.entry(fingerprint, incoming, location), at: found.slot)
            countIfForeign(found.slot)
            return true
        }
        let current = slots[found.slot]
        let isNewer = found.isReadable ? incoming.isNewer(than: storedFromScratch(found.slot))
            : VersionOrder.isNewer(incoming.version, tieBreak: incoming.tieBreak, than: current.version,
                                   tieBreak: UInt64(current.tieBreakHigh) << 32)
        guard isNewer else { return false }
        replace(found.slot, with: Self.entry(fingerprint, incoming, location))
        countIfForeign(found.slot)
        return true
    }

    @inline(__always)
    private func countIfForeign(_ slot: Int) {
        // An entry a slice-wise re-partitioning has not reached yet still has its older range.
        let entry = slots[slot]
        if let owned = ownedRanges, entry.partitionMark == partitionMark, Int(entry.range) < owned.count, !owned[Int(entry.range)] {
            foreignApplied += 1
        }
    }

    /// Applies `record` to an index over `RecordsInMemory` (appending it there first).
    package func apply(_ record: LogRecord) {
        guard let memory = source as? RecordsInMemory else { preconditionFailure("apply without a location needs RecordsInMemory") }
        apply(record, at: memory.append(record))
    }

    private static func entry(_ fingerprint: UInt64, _ stored: StoredValue, _ location: RecordLocation) -> IndexEntry {
        IndexEntry(fingerprint: fingerprint, version: stored.version, tieBreakHigh: UInt32(truncatingIfNeeded: stored.tieBreak >> 32),
                   location: location)
    }

    private func insert(_ incoming: IndexEntry, at slot: Int) {
        var entry = incoming
        if let ring {
            entry.range = UInt32(ring.rangeIndex(forHash: entry.fingerprint))
            entry.partitionMark = partitionMark
        }
        slots[slot] = entry
        count += 1
        account(entry, sign: 1)
    }

    private func replace(_ slot: Int, with incoming: IndexEntry) {
        var entry = incoming
        let previous = slots[slot]
        entry.takeRange(of: previous)
        slots[slot] = entry
        account(previous, sign: -1)
        account(entry, sign: 1)
    }

    /// Counts, record bytes and the range digest, for an entry that comes (+1) or goes (-1).
    private func account(_ entry: IndexEntry, sign: Int) {
        if entry.isTombstone { tombstones += sign } else { liveKeys += sign }
        recordBytes += sign * Int(entry.length)
        addSegmentBytes(sign * Int(entry.length), entry.segment)
        // An entry a slice-wise re-partitioning has not reached yet counts once it does.
        if ring != nil && entry.partitionMark == partitionMark { digests[Int(entry.range)] ^= entry.digestContribution }
    }

    /// Points the entry that is at `from` (with this fingerprint) at `to`: compaction moved its
    /// record. False when the entry moved on meanwhile (a newer write), which then stays.
    @discardableResult
    package func relocate(fingerprint: UInt64, from: RecordLocation, to: RecordLocation) -> Bool {
        relocate(fingerprint: fingerprint, fromSegment: from.segment, offset: from.offset, toSegment: to.segment, offset: to.offset)
    }

    /// As `relocate(fingerprint:from:to:)`, for a record that keeps its length (compaction's
    /// moves need not remember it: a place is its segment and offset).
    @discardableResult
    package func relocate(fingerprint: UInt64, fromSegment: UInt16, offset from: UInt32, toSegment: UInt16, offset to: UInt32) -> Bool {
        var slot = home(fingerprint)
        while !slots[slot].isEmpty {
            let entry = slots[slot]
            if entry.fingerprint == fingerprint && entry.segment == fromSegment && entry.offset == from {
                addSegmentBytes(-Int(entry.length), fromSegment)
                addSegmentBytes(Int(entry.length), toSegment)
                slots[slot].segment = toSegment
                slots[slot].offset = to
                return true
            }
            slot = next(slot)
        }
        return false
    }

    /// Bytes of the records the entries point at in `segment`.
    package func recordBytes(inSegment segment: UInt16) -> Int {
        Int(segment) < segmentRecordBytes.count ? segmentRecordBytes[Int(segment)] : 0
    }

    private func addSegmentBytes(_ bytes: Int, _ segment: UInt16) {
        if Int(segment) >= segmentRecordBytes.count {
            segmentRecordBytes += [Int](repeating: 0, count: Int(segment) + 1 - segmentRecordBytes.count)
        }
        segmentRecordBytes[Int(segment)] += bytes
    }

    /// Whether the entry of the key with `fingerprint` is the record at `location` (compaction:
    /// a record is live when its key's entry points at it). No read: a location is unique.
    package func isCurrent(fingerprint: UInt64, at location: RecordLocation) -> Bool {
        slot(fingerprint: fingerprint, at: location) != nil
    }

    private func slot(fingerprint: UInt64, at location: RecordLocation) -> Int? {
        var slot = home(fingerprint)
        while !slots[slot].isEmpty {
            if slots[slot].fingerprint == fingerprint && slots[slot].location == location { return slot }
            slot = next(slot)
        }
        return nil
    }

    /// Looks at up to `limit` slots from `cursor` (wrapping) and removes each entry `drop` says
    /// to (tombstone collection); returns the entries removed and where the next sweep starts.
    /// A cursor is only a position: after the table grows, a sweep may see a slot twice or
    /// miss one until the next pass, which is all a periodic sweep needs.
    package func sweep(from cursor: Int, limit: Int, drop: (IndexEntry) -> Bool) -> (removed: Int, next: Int) {
        var slot = cursor < slots.count ? cursor : 0
        var removed = 0
        for _ in 0..<min(limit, slots.count) {
            if !slots[slot].isEmpty && drop(slots[slot]) {
                remove(at: slot)
                removed += 1
                continue  // the slot now holds the entry shifted back into it (or nothing)
            }
            slot = next(slot)
        }
        return (removed, slot)
    }

    /// Removes `key`'s entry if its version is at most `version` (a node releasing a range it
    /// no longer holds, once the range's replicas acknowledged that version); true if removed.
    /// The record stays in the log until compaction, which keeps only what the index points at.
    @discardableResult
    package func remove(_ key: [UInt8], ifVersionAtMost version: UInt64) -> Bool {
        let found = find(key, fingerprintOf(key))
        guard found.found, found.isReadable, slots[found.slot].version <= version else { return false }
        remove(at: found.slot)
        return true
    }

    /// Empties `slot` and shifts back the entries of its probe run that may move, so every
    /// entry stays reachable from its home slot (linear probing's backward-shift deletion).
    private func remove(at slot: Int) {
        account(slots[slot], sign: -1)
        count -= 1
        var hole = slot
        var probe = next(slot)
        while !slots[probe].isEmpty {
            let homeSlot = home(slots[probe].fingerprint)
            let capacity = slots.count
            // The entry may fill the hole when the hole lies on its path from home to where it is.
            if (probe - homeSlot + capacity) % capacity >= (probe - hole + capacity) % capacity {
                slots[hole] = slots[probe]
                // Moved back, it may land behind a slice-wise walk's place: it gets its range now.
                if pendingPartition != nil { assignRangeNow(hole) }
                hole = probe
            }
            probe = next(probe)
        }
        slots[hole] = IndexEntry()
    }

    /// Slots between each entry's home and where it sits, summed: what probing costs (tests).
    package var displacement: Int {
        var total = 0
        for slot in slots.indices where !slots[slot].isEmpty {
            total += (slot - home(slots[slot].fingerprint) + slots.count) % slots.count
        }
        return total
    }

    /// Adds an entry known to be the only one of its key (a hint file's entries).
    package func insertLoaded(_ entry: IndexEntry) {
        if (count + 1) * 100 > slots.count * Self.maxLoadPercent { grow(to: slots.count + slots.count / 2) }
        var slot = home(entry.fingerprint)
        while !slots[slot].isEmpty { slot = next(slot) }
        insert(entry, at: slot)
    }

    /// Makes room for about `keys` entries at once (replay and hint files know how many come).
    package func reserveCapacity(_ keys: Int) {
        let needed = keys * 100 / Self.maxLoadPercent + 1
        if needed > slots.count { grow(to: needed) }
    }

    private func grow(to newCapacity: Int) {
        let old = slots
        slots = ContiguousArray(repeating: IndexEntry(), count: max(newCapacity, Self.minimumCapacity))
        for entry in old where !entry.isEmpty {
            var slot = home(entry.fingerprint)
            while !slots[slot].isEmpty { slot = next(slot) }
            slots[slot] = entry
        }
        // Entries keep their marks; a slice-wise walk starts again (those done are skipped).
        pendingPartition?.restart()
    }

    // MARK: ring ranges

    /// Attaches a ring: from now on each entry knows its range and digests are kept per
    /// range. Places the entries already present (once, after start-up or a ring change).
    package func partition(by ring: HashRing) {
        beginPartition(by: ring, snapshot: nil, ranges: [])
        while !continuePartition(slots: slots.count) {}
    }

    /// What re-partitioning needs of the table, taken on the loop: each entry's slot and
    /// fingerprint, in slot order (about 12 bytes per key, for the length of one change).
    package func partitionSnapshot() -> PartitionSnapshot {
        var snapshot = startPartitionSnapshot()
        while !continuePartitionSnapshot(&snapshot, slots: slots.count) {}
        return snapshot
    }

    /// An empty snapshot of this table, to be filled a slice at a time.
    package func startPartitionSnapshot() -> PartitionSnapshot {
        var snapshot = PartitionSnapshot(capacity: slots.count, ring: ring, partitionsBegun: partitionsBegun)
        snapshot.slots.reserveCapacity(count)
        snapshot.fingerprints.reserveCapacity(count)
        snapshot.knownRanges.reserveCapacity(count)
        return snapshot
    }

    /// Adds the entries of the next `count` slots to `snapshot`; true once every slot is in
    /// (or the table grew: the snapshot is then of no use, and `partition(by:snapshot:ranges:)`
    /// looks every entry up). The table may change between slices: an entry's range depends on
    /// its fingerprint alone, so a pair (slot, fingerprint) taken before the entry moved, was
    /// replaced or deleted is simply not used, and one written after its slice is looked up.
    package func continuePartitionSnapshot(_ snapshot: inout PartitionSnapshot, slots count: Int) -> Bool {
        let table = slots  // a local copy of the reference: no exclusivity check per slot
        guard table.count == snapshot.capacity else {
            snapshot.nextSlot = snapshot.capacity
            return true
        }
        let end = min(snapshot.nextSlot + count, table.count)
        // An entry's range is known if the ring the snapshot began with gave it (its mark).
        let knows = ring != nil && partitionsBegun == snapshot.partitionsBegun
        let mark = partitionMark
        for slot in snapshot.nextSlot..<end where !table[slot].isEmpty {
            snapshot.slots.append(UInt32(slot))
            snapshot.fingerprints.append(table[slot].fingerprint)
            snapshot.knownRanges.append(knows && table[slot].partitionMark == mark ? table[slot].range : PartitionSnapshot.unknownRange)
        }
        snapshot.nextSlot = end
        return end == table.count
    }

    /// The range of each fingerprint in `ring`: the slow part of re-partitioning (a multi-probe
    /// ring lookup per key), pure, so it runs off the loop.
    package static func ranges(of fingerprints: some Collection<UInt64>, in ring: HashRing) -> [UInt32] {
        fingerprints.map { UInt32(ring.rangeIndex(forHash: $0)) }
    }

    /// The same, for the snapshot's entries `chunk`: an entry whose range in the snapshot's
    /// ring carries over to `ring` (`carried`, HashRing.carriedRanges: a node removed, and
    /// its point was not the entry's) takes it without a lookup. At 1M keys the lookups
    /// were 60–110 ms of pool time at every node at once, in the change's first second.
    package static func ranges(of snapshot: PartitionSnapshot, _ chunk: Range<Int>, carried: [Int32]?, in ring: HashRing) -> [UInt32] {
        guard let carried else { return ranges(of: snapshot.fingerprints[chunk], in: ring) }
        return chunk.map { entry in
            let known = snapshot.knownRanges[entry]
            if Int(known) < carried.count, carried[Int(known)] >= 0 { return UInt32(carried[Int(known)]) }
            return UInt32(ring.rangeIndex(forHash: snapshot.fingerprints[entry]))
        }
    }

    /// `partition(by:)` with the ranges computed from `snapshot` meanwhile: an entry still in
    /// the slot it had then takes its computed range; one written or moved since is looked up
    /// now (all of them if the table grew).
    package func partition(by ring: HashRing, snapshot: PartitionSnapshot, ranges: [UInt32]) {
        beginPartition(by: ring, snapshot: snapshot, ranges: ranges)
        while !continuePartition(slots: slots.count) {}
    }

    /// Attaches `ring` and starts giving every entry its range in it, a slice of the table at a
    /// time (`continuePartition`): at 600k keys the whole pass held a node's loop 20–60 ms, at
    /// every node at once, the slowest second of every move. From now on a write gets its
    /// range in `ring` and counts in the new digests at once; an entry the walk has not reached
    /// counts when it does (its mark tells). Until the walk ends, the digests are partial and
    /// the ranges mixed: the node answers repair 503 meanwhile (Store.isPartitioning). A walk
    /// still under way is finished first.
    package func beginPartition(by ring: HashRing, snapshot: PartitionSnapshot?, ranges: [UInt32]) {
        if pendingPartition != nil { while !continuePartition(slots: slots.count) {} }
        self.ring = ring
        partitionMark.toggle()
        partitionsBegun += 1
        digests = [UInt64](repeating: 0, count: ring.rangeCount)
        let isCurrent = snapshot.map { $0.capacity == slots.count && ranges.count == $0.slots.count } ?? false
        pendingPartition = PendingPartition(known: isCurrent ? snapshot! : PartitionSnapshot(capacity: 0), ranges: isCurrent ? ranges : [])
    }

    /// Gives the entries of the next `count` slots their range (from the snapshot where the
    /// entry is still the one it saw in its slot, else looked up) and counts them in the
    /// digests; true once the walk is over. The table and the digests are worked on as locals
    /// (moved out and back): no exclusivity check or copy-on-write test per slot.
    package func continuePartition(slots count: Int) -> Bool {
        guard var walk = pendingPartition, let ring else { return true }
        var table = ContiguousArray<IndexEntry>()
        swap(&table, &slots)
        var sums: [UInt64] = []
        swap(&sums, &digests)
        let mark = partitionMark
        let end = table.count - walk.nextSlot <= count ? table.count : walk.nextSlot + count
        for slot in walk.nextSlot..<end where !table[slot].isEmpty && table[slot].partitionMark != mark {
            let range = walk.computedRange(slot: slot, fingerprint: table[slot].fingerprint) ?? ring.rangeIndex(forHash: table[slot].fingerprint)
            table[slot].range = UInt32(range)
            table[slot].partitionMark = mark
            sums[range] ^= table[slot].digestContribution
        }
        swap(&table, &slots)
        swap(&sums, &digests)
        walk.nextSlot = end
        pendingPartition = end == slots.count ? nil : walk
        return pendingPartition == nil
    }

    /// True while a re-partitioning's walk is under way.
    package var isPartitionPending: Bool { pendingPartition != nil }

    /// Gives the entry at `slot` its range in `ring` now, if the walk has not.
    private func assignRangeNow(_ slot: Int) {
        guard let ring, !slots[slot].isEmpty, slots[slot].partitionMark != partitionMark else { return }
        let range = ring.rangeIndex(forHash: slots[slot].fingerprint)
        slots[slot].range = UInt32(range)
        slots[slot].partitionMark = partitionMark
        digests[range] ^= slots[slot].digestContribution
    }

    /// Up to `limit` entries of `range` whose table order's top 32 bits are at least `from`, in
    /// table order, with their keys and values read from the log; and the cursor of the next
    /// page (nil at the end). Entries sharing their top 32 bits stay on one page. The cursor is
    /// opaque to the peer that pages (it sends back what it got).
    ///
    /// Slots follow the table order (homes grow with it), so a page walks only the stretch of
    /// it from `from` that holds about a page of the range (at the table's load,
    /// `limit` × the held ranges' entries' share, and a quarter more; doubled until enough are
    /// found), not the whole table: a range pulled page by page costs about one pass over the
    /// table, not one per page. Held ranges are those with entries (a non-zero digest): a node
    /// holds only its own, a half of the ring's with 4 nodes and 2 replicas, and sizing by
    /// all of them walked 2.6 tables per range, each page twice the stretch it needed.
    package func page(range: Int, from: UInt32, limit: Int) -> (entries: [(key: [UInt8], stored: StoredValue)], next: UInt32?) {
        var candidates: [(order: UInt64, slot: Int)] = []
        var low = UInt64(from) << 32
        // A quarter more than the slots that hold `limit` entries of one held range on average.
        let heldRanges = digests.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        var spanSlots = min(max(limit, 1) * max(heldRanges, 1) * slots.count / max(count, 1) * 5 / 4 + 1, slots.count)
        var high: UInt64
        repeat {
            high = Self.groupEnd(from: low, slots: spanSlots, capacity: slots.count)
            forEachSlot(orderFrom: low, through: high) { slot in
                if slots[slot].range == UInt32(range) { candidates.append((tableOrder(slots[slot].fingerprint), slot)) }
            }
            if high == UInt64.max { break }
            low = high + 1
            spanSlots *= 2
        } while candidates.count < limit
        candidates.sort { $0.order < $1.order }
        let cut = Self.pageCut(candidates.map(\.order), limit: limit)
        var entries: [(key: [UInt8], stored: StoredValue)] = []
        entries.reserveCapacity(cut)
        for (_, slot) in candidates[..<cut] {
            guard let record = source.record(at: slots[slot].location) else {
                readFailures += 1
                continue
            }
            entries.append((record.key, Self.stored(slots[slot], record)))
        }
        if cut < candidates.count { return (entries, UInt32(candidates[cut].order >> 32)) }
        return (entries, high == UInt64.max ? nil : UInt32(high >> 32) + 1)
    }

    /// The last table order of a stretch from `low` about `slots` table slots wide, at the end
    /// of a top-32-bit group (a page never splits one) and never ending the group just below
    /// all ones (the next cursor would be the wire's end marker): UInt64.max past the end.
    static func groupEnd(from low: UInt64, slots width: Int, capacity: Int) -> UInt64 {
        guard let end = stretchEnd(from: low, slots: width, capacity: capacity) else { return UInt64.max }
        let high = end | 0xFFFF_FFFF
        return high >> 32 >= UInt64(UInt32.max - 1) ? UInt64.max : high
    }

    /// Where a stretch of the table order from `low`, about `width` of `capacity` slots' share
    /// of it, ends (exclusive); nil when it runs past the end of the order.
    static func stretchEnd(from low: UInt64, slots width: Int, capacity: Int) -> UInt64? {
        let span = (UInt64.max / UInt64(max(capacity, 1))).multipliedReportingOverflow(by: UInt64(max(width, 1)))
        let (end, overflow) = low.addingReportingOverflow(span.overflow ? UInt64.max : span.partialValue)
        return overflow ? nil : end
    }

    /// How many of the sorted `fingerprints` one page takes: at most `limit`, ending where the
    /// top 32 bits change (a group larger than a page is taken whole), and never leaving a
    /// cursor of all ones (the end marker on the wire).
    static func pageCut(_ fingerprints: [UInt64], limit: Int) -> Int {
        guard fingerprints.count > limit else { return fingerprints.count }
        let top = { (index: Int) in UInt32(fingerprints[index] >> 32) }
        var cut = limit
        while cut > 0 && top(cut - 1) == top(cut) { cut -= 1 }
        if cut == 0 {
            cut = limit
            while cut < fingerprints.count && top(cut) == top(limit - 1) { cut += 1 }
        }
        if cut < fingerprints.count && top(cut) == UInt32.max { cut = fingerprints.count }
        return cut
    }
}

/// Where a slice-wise re-partitioning is (`KeyValueIndex.beginPartition`): the next slot, and
/// the ranges computed off the loop with the place of the next snapshot entry to match.
struct PendingPartition {
    let known: PartitionSnapshot
    let ranges: [UInt32]
    var nextSlot = 0
    private var nextKnown = 0
    /// False once the table grew: the snapshot's slots mean nothing then.
    private var isSnapshotCurrent = true

    init(known: PartitionSnapshot, ranges: [UInt32]) {
        self.known = known
        self.ranges = ranges
    }

    /// The table grew: the walk starts over, every entry looked up.
    mutating func restart() {
        nextSlot = 0
        isSnapshotCurrent = false
    }

    /// The range computed for the entry at `slot`, if the snapshot saw this fingerprint there
    /// (slots come in increasing order).
    mutating func computedRange(slot: Int, fingerprint: UInt64) -> Int? {
        guard isSnapshotCurrent else { return nil }
        while nextKnown < known.slots.count && Int(known.slots[nextKnown]) < slot { nextKnown += 1 }
        guard nextKnown < known.slots.count, Int(known.slots[nextKnown]) == slot, known.fingerprints[nextKnown] == fingerprint else { return nil }
        return Int(ranges[nextKnown])
    }
}

/// The table's entries when a re-partitioning began (`KeyValueIndex.partitionSnapshot`).
package struct PartitionSnapshot: Sendable {
    package let capacity: Int
    /// The ring the index had when the snapshot began (nil: none yet).
    package let ring: HashRing?
    let partitionsBegun: Int
    package var slots: [UInt32] = []
    package var fingerprints: [UInt64] = []
    /// Per entry, its range in `ring` (`unknownRange`: an entry the walk of an earlier
    /// re-partitioning had not reached, or the index began another one meanwhile).
    package var knownRanges: [UInt32] = []
    package static let unknownRange = UInt32.max
    /// The first slot not yet looked at (`continuePartitionSnapshot`).
    package var nextSlot = 0

    init(capacity: Int, ring: HashRing? = nil, partitionsBegun: Int = 0) {
        self.capacity = capacity
        self.ring = ring
        self.partitionsBegun = partitionsBegun
    }
}
