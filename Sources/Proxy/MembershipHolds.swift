// Requests every replica refused with 421 (they serve a newer membership than this proxy),
// held until the proxy has re-read its hosts file, then sent again: reads and writes
// (ProxyService) and create-only writes (CreateWriter) alike.
//
//   421 from every replica ─▶ hold(retry) ─┬─ last sent before the latest re-read ─▶ again at once
//                                          ├─ Limits.requestsAwaitingMembershipMax held ─▶ again at once
//                                          └─ held ─▶ re-read (HostsReloader.onReread) or
//                                             Limits.membershipWaitMs ─▶ again
//
// The caller asks `MembershipRetry.mayRetry` first: a request goes again at most
// Limits.membershipRetriesMax times (MembershipRetry.swift).

import LinkRingCore
import LinkRingUV

final class MembershipHolds {
    private struct Held {
        var resend: () -> Void
        var deadlineMs: UInt64
    }

    private var held = FIFOQueue<Held>()
    /// When this proxy last re-read its hosts file (MonotonicClock ns; 0: never).
    private var lastRereadNs: UInt64 = 0
    private let metrics: ProxyMetrics

    init(metrics: ProxyMetrics) { self.metrics = metrics }

    /// Holds a request until the next re-read (at most Limits.membershipWaitMs); then `resend`
    /// sends it again. A request last sent before the latest re-read goes again at once: its
    /// 421 answered the membership this proxy served when it was sent, and the proxy has moved
    /// on since (nodes that learned the change from a peer refuse the proxy's last
    /// old-generation requests after its own re-read; held, they waited the whole wait).
    func hold(_ retry: MembershipRetry, _ resend: @escaping (MembershipRetry) -> Void) {
        let again = { resend(retry.sentAgain(atNs: MonotonicClock.nowNs())) }
        if retry.predates(rereadAtNs: lastRereadNs) { return again() }
        guard held.count < Limits.requestsAwaitingMembershipMax else { return again() }
        metrics.heldForMembership += 1
        held.append(Held(resend: again, deadlineMs: MonotonicClock.nowMs() + Limits.membershipWaitMs))
    }

    /// The hosts file was re-read (adopted or not): the held requests go out again.
    func reread() {
        lastRereadNs = MonotonicClock.nowNs()
        for request in held.removeAll() { request.resend() }
    }

    /// Requests held past Limits.membershipWaitMs go out again.
    func expire(nowMs: UInt64) {
        while let request = held.first, nowMs >= request.deadlineMs {
            held.popFirst()
            request.resend()
        }
    }
}
