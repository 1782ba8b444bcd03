// What the proxy knows of one node's health, on an injected clock (milliseconds), so the
// rules are tested without sleeping.
//
//   unknown ──success──▶ up ──`failuresToDown` failures in a row──▶ down ──success──▶ up
//
// Failures are missed pings (no answer before the deadline) and failed requests (connection
// error, time-out, 5xx): passive detection, so a dead node is noticed by traffic before the
// next ping. A node that is not down is used; `unknown` (not pinged yet) counts as usable so a
// proxy serves from its first request. Readiness (`ready`/`recovering`) comes from the node's
// own /_/health (and X-Recovering on its answers); reads prefer ready replicas. Any failure
// makes readiness unknown until a ping confirms it again: a node that crashed and came back
// between two pings may have missed writes, so it must not count as ready on old news.

public enum NodeState: String, Sendable {
    case unknown, up, down
}

public enum NodeReadiness: String, Sendable {
    case unknown, ready, recovering
}

public struct NodeHealth: Sendable {
    public let failuresToDown: Int
    public private(set) var state = NodeState.unknown
    public private(set) var readiness = NodeReadiness.unknown
    public private(set) var consecutiveFailures = 0
    public private(set) var lastSuccessMs: UInt64? = nil
    public private(set) var lastPingMs: UInt64? = nil
    public private(set) var lastRoundTripMs: UInt64? = nil
    /// When the state last changed.
    public private(set) var sinceMs: UInt64 = 0

    public init(failuresToDown: Int, nowMs: UInt64 = 0) {
        precondition(failuresToDown > 0)
        self.failuresToDown = failuresToDown
        sinceMs = nowMs
    }

    public var isUsable: Bool { state != .down }
    public var isReady: Bool { state != .down && readiness == .ready }

    /// A ping answered (with the node's readiness) or a request succeeded (readiness nil).
    /// Returns true when the state changed.
    @discardableResult
    public mutating func recordSuccess(nowMs: UInt64, roundTripMs: UInt64? = nil, readiness: NodeReadiness? = nil) -> Bool {
        consecutiveFailures = 0
        lastSuccessMs = nowMs
        if let roundTripMs {
            lastPingMs = nowMs
            lastRoundTripMs = roundTripMs
        }
        let readinessChanged = readiness != nil && readiness != self.readiness
        if let readiness { self.readiness = readiness }
        return transition(to: .up, nowMs: nowMs) || readinessChanged
    }

    /// A ping missed its deadline or a request failed. Returns true when the state changed.
    @discardableResult
    public mutating func recordFailure(nowMs: UInt64, isPing: Bool = false) -> Bool {
        consecutiveFailures += 1
        if isPing { lastPingMs = nowMs }
        readiness = .unknown
        guard consecutiveFailures >= failuresToDown else { return false }
        return transition(to: .down, nowMs: nowMs)
    }

    /// How long the node has been down, or nil when it is not.
    public func downForMs(nowMs: UInt64) -> UInt64? {
        state == .down ? nowMs - min(sinceMs, nowMs) : nil
    }

    private mutating func transition(to next: NodeState, nowMs: UInt64) -> Bool {
        guard state != next else { return false }
        state = next
        sinceMs = nowMs
        if next == .down { readiness = .unknown }
        return true
    }
}
