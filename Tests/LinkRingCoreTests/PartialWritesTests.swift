// The proxy's read floors (PartialWrites.swift): a write acknowledged while a replica missed it
// leaves its version as the key's floor, so a read answer below it (the replica that missed it)
// is never the client's answer; the floor goes when every missing replica acknowledged, when it
// expires, or — oldest first — when the table is full. The CI fault suite's kill9 scenario saw
// the stale read these prevent: a write settled without a late replica, read from it 2 ms later.

import Testing
@testable import LinkRingCore

@Suite("PartialWrites: read floors for writes a replica missed")
struct PartialWritesTests {
    let a: [UInt8] = Array("a".utf8)
    let b: [UInt8] = Array("b".utf8)

    @Test("a noted write is the key's floor; other keys have none; an older write never lowers it")
    func noteAndFloor() {
        var floors = PartialWrites(capacity: 8, lifetimeMs: 1_000)
        #expect(floors.isEmpty && floors.floor(of: a) == nil)
        floors.note(a, version: 10, nowMs: 0)
        #expect(floors.floor(of: a) == 10)
        #expect(floors.floor(of: b) == nil)
        floors.note(a, version: 7, nowMs: 1)
        #expect(floors.floor(of: a) == 10)
        floors.note(a, version: 12, nowMs: 2)
        #expect(floors.floor(of: a) == 12)
        #expect(floors.count == 1)
    }

    @Test("caught up at the floor's own version drops it; at a superseded version it stays")
    func caughtUp() {
        var floors = PartialWrites(capacity: 8, lifetimeMs: 1_000)
        floors.note(a, version: 10, nowMs: 0)
        floors.note(a, version: 12, nowMs: 1)
        floors.caughtUp(a, version: 10)
        #expect(floors.floor(of: a) == 12)
        floors.caughtUp(a, version: 12)
        #expect(floors.floor(of: a) == nil && floors.isEmpty)
    }

    @Test("a floor expires after its lifetime, counted from its own write; a newer write keeps it")
    func expiry() {
        var floors = PartialWrites(capacity: 8, lifetimeMs: 1_000)
        floors.note(a, version: 10, nowMs: 0)
        floors.note(b, version: 11, nowMs: 500)
        floors.expire(nowMs: 999)
        #expect(floors.floor(of: a) == 10)
        floors.expire(nowMs: 1_000)
        #expect(floors.floor(of: a) == nil)
        #expect(floors.floor(of: b) == 11)
        floors.note(b, version: 13, nowMs: 1_200)
        floors.expire(nowMs: 1_500)  // the first entry of b is over, its newer version is not
        #expect(floors.floor(of: b) == 13)
        floors.expire(nowMs: 2_200)
        #expect(floors.isEmpty)
        #expect(floors.dropped == 0)
    }

    @Test("past capacity the oldest key's floor is dropped first, and counted")
    func capacity() {
        var floors = PartialWrites(capacity: 3, lifetimeMs: 60_000)
        for (index, key) in ["k0", "k1", "k2", "k3", "k4"].enumerated() {
            floors.note(Array(key.utf8), version: UInt64(index + 1), nowMs: UInt64(index))
        }
        #expect(floors.count == 3)
        #expect(floors.dropped == 2)
        #expect(floors.floor(of: Array("k0".utf8)) == nil && floors.floor(of: Array("k1".utf8)) == nil)
        #expect(floors.floor(of: Array("k4".utf8)) == 5)
    }

    @Test("one key written over and over never grows the queue past twice the capacity")
    func boundedQueue() {
        var floors = PartialWrites(capacity: 4, lifetimeMs: 60_000)
        for version in 1...1_000 {
            floors.note(a, version: UInt64(version), nowMs: UInt64(version))
            #expect(floors.queued <= 8)
        }
        #expect(floors.floor(of: a) == 1_000)
        floors.note(b, version: 1, nowMs: 1_001)
        #expect(floors.floor(of: b) == 1 && floors.floor(of: a) == 1_000)
        #expect(floors.dropped == 0)
    }
}
