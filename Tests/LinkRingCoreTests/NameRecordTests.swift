// The rules of one host name (NameRecord) on an injected clock, at and past every limit of
// Limits' "Names in the hosts file" section: the first lookup is waited for, a silent one turns
// into a failure after nameLookupSlowMs, an answer serves for resolvedAddressLifetimeMs and is
// refreshed from resolvedAddressRefreshMs on, a failed refresh keeps the address until its
// lifetime ends, a failure is retried after nameRetryDelayMs, one lookup at a time, and the
// failure lines are rate-limited. Also: which hosts are numeric (never looked up).

import Testing
@testable import LinkRingCore

@Suite("Name records")
struct NameRecordTests {
    @Test("a new name is due at once; while its first lookup is in flight, connections wait, and no second lookup starts")
    func firstLookup() {
        var record = NameRecord(name: "node1.example")
        #expect(record.isLookupDue(nowMs: 0))
        #expect(record.answer(nowMs: 0) == .waiting)
        record.lookupStarted(nowMs: 100)
        #expect(!record.isLookupDue(nowMs: 100 + Limits.resolvedAddressLifetimeMs), "one lookup per name at a time")
        #expect(record.answer(nowMs: 100 + Limits.nameLookupSlowMs - 1) == .waiting)
        let answer = record.lookupSucceeded(address: "10.0.0.5", nowMs: 150)
        #expect(answer.replaced == nil && answer.ended == nil)
        #expect(record.answer(nowMs: 150) == .address("10.0.0.5"))
    }

    @Test("a lookup silent for nameLookupSlowMs is a failure (counted once, logged as the start), and its late failure is not counted again")
    func slowLookup() {
        var record = NameRecord(name: "dns-down.example")
        record.lookupStarted(nowMs: 0)
        #expect(record.noteSlowLookup(nowMs: Limits.nameLookupSlowMs - 1) == nil)
        #expect(record.answer(nowMs: Limits.nameLookupSlowMs - 1) == .waiting)
        #expect(record.noteSlowLookup(nowMs: Limits.nameLookupSlowMs) == .started)
        #expect(record.answer(nowMs: Limits.nameLookupSlowMs) == .failed(NameRecord.slowReason))
        #expect(record.noteSlowLookup(nowMs: Limits.nameLookupSlowMs + 5_000) == nil, "counted once per lookup")
        #expect(record.lookupFailed("temporary failure (EAI_AGAIN)", nowMs: 10_000) == nil)
        #expect(record.answer(nowMs: 10_000) == .failed("temporary failure (EAI_AGAIN)"))
        #expect(record.report.isFailing)
    }

    @Test("after a failure the name is looked up again nameRetryDelayMs later, not sooner; an answer ends the episode")
    func retryAfterFailure() {
        var record = NameRecord(name: "node1.example")
        record.lookupStarted(nowMs: 0)
        #expect(record.lookupFailed("unknown node or service (EAI_NONAME)", nowMs: 10) == .started)
        #expect(!record.isLookupDue(nowMs: 10 + Limits.nameRetryDelayMs - 1))
        #expect(record.isLookupDue(nowMs: 10 + Limits.nameRetryDelayMs))
        record.lookupStarted(nowMs: 2_000)
        #expect(record.lookupFailed("unknown node or service (EAI_NONAME)", nowMs: 2_010) == nil, "rate-limited")
        record.lookupStarted(nowMs: 3_100)
        let answer = record.lookupSucceeded(address: "10.0.0.5", nowMs: 3_200)
        #expect(answer.ended == .ended(failures: 2, durationMs: 3_190))
        #expect(!record.report.isFailing)
    }

    @Test("an answer is refreshed from resolvedAddressRefreshMs on and serves until resolvedAddressLifetimeMs; a failed refresh keeps it until then")
    func refreshAndLifetime() {
        var record = NameRecord(name: "node1.example")
        record.lookupStarted(nowMs: 0)
        _ = record.lookupSucceeded(address: "10.0.0.5", nowMs: 0)
        #expect(!record.isLookupDue(nowMs: Limits.resolvedAddressRefreshMs - 1))
        #expect(record.isLookupDue(nowMs: Limits.resolvedAddressRefreshMs))
        record.lookupStarted(nowMs: Limits.resolvedAddressRefreshMs)
        #expect(record.answer(nowMs: Limits.resolvedAddressRefreshMs + Limits.nameLookupSlowMs) == .address("10.0.0.5"),
                "a slow refresh does not take the address away")
        #expect(record.lookupFailed("temporary failure (EAI_AGAIN)", nowMs: Limits.resolvedAddressRefreshMs + 2_000) == .started)
        #expect(record.answer(nowMs: Limits.resolvedAddressLifetimeMs - 1) == .address("10.0.0.5"))
        #expect(record.answer(nowMs: Limits.resolvedAddressLifetimeMs) == .failed("temporary failure (EAI_AGAIN)"))
        #expect(record.usableAddress(nowMs: Limits.resolvedAddressLifetimeMs) == nil)
    }

    @Test("a refresh still in flight when the lifetime ends leaves no address: connections fail")
    func lifetimeEndsDuringRefresh() {
        var record = NameRecord(name: "node1.example")
        record.lookupStarted(nowMs: 0)
        _ = record.lookupSucceeded(address: "10.0.0.5", nowMs: 0)
        record.lookupStarted(nowMs: Limits.resolvedAddressRefreshMs)
        guard case .failed = record.answer(nowMs: Limits.resolvedAddressLifetimeMs) else {
            Issue.record("an address past its lifetime must not be used")
            return
        }
    }

    @Test("a new address replaces the old one and says which it was")
    func addressChange() {
        var record = NameRecord(name: "node1.example")
        record.lookupStarted(nowMs: 0)
        _ = record.lookupSucceeded(address: "10.0.0.5", nowMs: 0)
        record.lookupStarted(nowMs: 30_000)
        #expect(record.lookupSucceeded(address: "10.0.0.5", nowMs: 30_001).replaced == nil)
        record.lookupStarted(nowMs: 60_002)
        #expect(record.lookupSucceeded(address: "10.0.0.9", nowMs: 60_003).replaced == "10.0.0.5")
        #expect(record.answer(nowMs: 60_003) == .address("10.0.0.9"))
    }

    @Test("numeric hosts are never looked up; names are", arguments: [
        ("127.0.0.1", true), ("10.211.3.13", true), ("255.255.255.255", true), ("::1", true), ("fe80::1%eth0", true),
        ("localhost", false), ("dns-down.example", false), ("1.2.3", false), ("1.2.3.4.example", false), ("256.1.1.1", false),
        ("127.0.0.01", false), ("1..2.3", false), ("node-1", false),
    ])
    func numericHosts(host: String, isNumeric: Bool) {
        #expect(HostPort(host: host, port: 7000).isNumericAddress == isNumeric)
    }
}
