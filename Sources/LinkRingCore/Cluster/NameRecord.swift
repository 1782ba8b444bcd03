// One host name of the hosts file as a process knows it: the address of its last answer, the
// lookup in flight, its failures. Pure, on an injected clock (milliseconds), so every rule is
// tested without a resolver and without sleeping; LinkRingServer's NameResolver keeps one per
// name and does the lookups off the loop (uv_getaddrinfo on libuv's thread pool).
//
//   never answered ─lookup answers─▶ resolved: the address serves for resolvedAddressLifetimeMs
//        │                            │  at resolvedAddressRefreshMs it is looked up again in the
//        │                            │  background; a new answer replaces it, a failure keeps it
//        │                            ▼  until its lifetime ends (then: failing)
//        └─lookup fails, or is silent for nameLookupSlowMs─▶ failing: connections to its node
//                                     fail at once (the node goes down), and the name is looked
//                                     up again nameRetryDelayMs after each failed answer
//
// At most one lookup per name is in flight: a resolver that never answers holds one of libuv's
// thread-pool threads for this name, never more (libuv runs lookups as "slow I/O", on at most
// half its threads, so file writes always have threads left).

package struct NameRecord: Sendable {
    /// What a connection to the name's node gets now.
    package enum Answer: Sendable, Equatable {
        /// Connect to this numeric address.
        case address(String)
        /// The first lookup is in flight and not yet slow: wait for it.
        case waiting
        /// No usable address: fail at once, for this reason.
        case failed(String)
    }

    package let name: String
    /// The numeric address of the last answer, and when it came.
    package private(set) var address: String? = nil
    private var answeredMs: UInt64 = 0
    package private(set) var isLookingUp = false
    private var lookupStartedMs: UInt64 = 0
    /// Set once the lookup in flight has been counted as slow (it is counted once).
    private var isSlowCounted = false
    /// Why the last lookup failed; nil after an answer.
    private var failure: String? = nil
    private var failedMs: UInt64 = 0
    /// One ERROR line when failures start, counted summaries while they last, one line when they end.
    package var report = RepeatedFailureReport()

    package init(name: String) {
        self.name = name
    }

    package func answer(nowMs: UInt64) -> Answer {
        if let address = usableAddress(nowMs: nowMs) { return .address(address) }
        if let failure { return .failed(failure) }
        if address != nil { return .failed("its last answer is older than \(Limits.resolvedAddressLifetimeMs / 1000) s") }
        if isLookingUp && isSlow(nowMs: nowMs) { return .failed(Self.slowReason) }
        return .waiting
    }

    /// The address of the last answer while its lifetime lasts.
    package func usableAddress(nowMs: UInt64) -> String? {
        guard let address, nowMs < answeredMs + Limits.resolvedAddressLifetimeMs else { return nil }
        return address
    }

    /// True when a lookup should start now: none in flight, and never asked, or the retry delay
    /// after a failure passed, or the answer is due for its refresh.
    package func isLookupDue(nowMs: UInt64) -> Bool {
        if isLookingUp { return false }
        if failure != nil { return nowMs >= failedMs + Limits.nameRetryDelayMs }
        if address != nil { return nowMs >= answeredMs + Limits.resolvedAddressRefreshMs }
        return true
    }

    package mutating func lookupStarted(nowMs: UInt64) {
        precondition(!isLookingUp, "one lookup per name at a time")
        isLookingUp = true
        isSlowCounted = false
        lookupStartedMs = nowMs
    }

    /// An answer: `replaced` is the address it replaces when that differs (nil on the first
    /// answer), `ended` the report's line when it ends an episode of failures.
    package mutating func lookupSucceeded(address newAddress: String, nowMs: UInt64) -> (replaced: String?, ended: RepeatedFailureReport.Line?) {
        let previous = address
        isLookingUp = false
        address = newAddress
        answeredMs = nowMs
        failure = nil
        return (previous == newAddress ? nil : previous, report.succeeded(nowMs: nowMs))
    }

    /// A failed lookup: counted in `report` (the line to log, if one is due), unless the same
    /// lookup was already counted as slow.
    package mutating func lookupFailed(_ reason: String, nowMs: UInt64) -> RepeatedFailureReport.Line? {
        isLookingUp = false
        failure = reason
        failedMs = nowMs
        return isSlowCounted ? nil : report.failed(nowMs: nowMs)
    }

    /// Counts the lookup in flight as one failure once it has been silent `nameLookupSlowMs`
    /// (once per lookup); returns the report's line to log, if one is due.
    package mutating func noteSlowLookup(nowMs: UInt64) -> RepeatedFailureReport.Line? {
        guard isLookingUp, !isSlowCounted, isSlow(nowMs: nowMs) else { return nil }
        isSlowCounted = true
        return report.failed(nowMs: nowMs)
    }

    private func isSlow(nowMs: UInt64) -> Bool { nowMs >= lookupStartedMs + Limits.nameLookupSlowMs }

    package static let slowReason = "no answer from the resolver within \(Limits.nameLookupSlowMs) ms"
}
