// A create-only write holds its name from the moment it is accepted until its batch settles:
// a second create of the name meanwhile sees it as taken, with its value and version, and a
// settled (or failed) create frees the entry — but only its own, never a later one's.

import Testing
@testable import Node
import LinkRingCore

@Suite("Pending creates")
struct PendingCreatesTests {
    @Test("a pending create is seen by the next create of its key until its batch settles")
    func holdsUntilSettled() {
        let pending = PendingCreates()
        let first = LogRecord(version: 10, op: .put, key: Array("a".utf8), value: Array("http://a/".utf8))
        pending.begin(first)
        #expect(pending.record(for: Array("a".utf8)) == first && pending.record(for: Array("b".utf8)) == nil)
        pending.end(first)
        #expect(pending.record(for: Array("a".utf8)) == nil && pending.count == 0)
        let later = LogRecord(version: 20, op: .put, key: Array("a".utf8), value: Array("http://b/".utf8))
        pending.begin(later)
        pending.end(first)  // a stale settlement of the earlier create leaves the later one alone
        #expect(pending.record(for: Array("a".utf8)) == later)
    }
}
