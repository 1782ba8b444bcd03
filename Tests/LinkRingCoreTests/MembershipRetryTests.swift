// MembershipRetry: a request refused with 421 goes again after each re-read, a bounded number of times.

@testable import LinkRingCore
import Testing

@Suite("Membership retry")
struct MembershipRetryTests {
    @Test("a request may go again Limits.membershipRetriesMax times, then no more")
    func bounded() {
        var retry = MembershipRetry(sentNs: 100)
        var sends = 0
        while retry.mayRetry {
            retry = retry.sentAgain(atNs: 100 + UInt64(sends))
            sends += 1
        }
        #expect(sends == Limits.membershipRetriesMax)
        #expect(Limits.membershipRetriesMax >= 2, "two changes in quick succession refuse a request twice")
        #expect(retry.retries == Limits.membershipRetriesMax)
    }

    @Test("a 421 to a send before the last re-read answered an older membership; one after it did not")
    func predatesReread() {
        let first = MembershipRetry(sentNs: 1_000)
        #expect(first.predates(rereadAtNs: 1_001))
        #expect(!first.predates(rereadAtNs: 1_000))
        #expect(!first.predates(rereadAtNs: 0), "never re-read")
        let again = first.sentAgain(atNs: 2_000)
        #expect(again.lastSentNs == 2_000 && again.retries == 1)
        #expect(!again.predates(rereadAtNs: 1_001), "sent again after that re-read: it waits for the next one")
    }
}
