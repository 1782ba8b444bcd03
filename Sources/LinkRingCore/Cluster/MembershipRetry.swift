// A request every replica refused with 421 (they serve a newer membership than this proxy
// sent it under) goes again once the proxy has re-read its hosts file. Two changes in quick
// succession (a second one before the first completed) can refuse the same request twice: the
// proxy re-read the first file, sent the request again, and the nodes had meanwhile moved on to
// the second. So a request may go again up to Limits.membershipRetriesMax times, each after a
// re-read (or Limits.membershipWaitMs), and is then answered 503: bounded, never a loop.
//
// A 421 to a send made before the proxy's last re-read answered the membership the proxy has
// since left: that request goes again at once, without waiting for the next re-read.

package struct MembershipRetry: Sendable, Equatable {
    /// How often the request went again after a 421.
    package private(set) var retries = 0
    /// When the request was last sent (MonotonicClock ns).
    package private(set) var lastSentNs: UInt64

    /// A request first sent at `sentNs`.
    package init(sentNs: UInt64) { lastSentNs = sentNs }

    /// Whether a 421 may send it again (after a re-read).
    package var mayRetry: Bool { retries < Limits.membershipRetriesMax }

    /// Whether its last send predates the re-read at `lastRereadNs`: its 421 answered an older membership.
    package func predates(rereadAtNs lastRereadNs: UInt64) -> Bool { lastSentNs < lastRereadNs }

    /// The same request, sent again at `nowNs`.
    package func sentAgain(atNs nowNs: UInt64) -> MembershipRetry {
        var next = self
        next.retries += 1
        next.lastSentNs = nowNs
        return next
    }
}
