// What the proxy knows of one node's health, on an injected clock (milliseconds), so the
// rules are tested without sleeping.
//
//   unknown ──success──▶ up ──`failuresToDown` failures in a row──▶ down ──success──▶ up
//   any state ──refuse (the entry is an alias of another line)──▶ refused, for good
//
// Failures are missed pings (no answer before the deadline) and failed requests (connection
// error, time-out, 5xx): passive detection, so a dead node is noticed by traffic before the
// next ping. A node that is not down is used; `unknown` (not pinged yet) counts as usable so a
// proxy serves from its first request. Readiness (`ready`/`recovering`) comes from the node's
// own /_/health (and X-Recovering on its answers); reads prefer ready replicas.
//
// Slow and frozen nodes (SlowNodeRules.swift): a request that is late makes the node
// `isSuspect` at once — reads try its replicas first — until the node answers anything. A node
// that sent nothing for --silence-to-down-ms while requests waited is down at once
// (`recordSilence`), without waiting for missed pings; it comes back as any down node does.
//
// Catching up: once this proxy has seen a node fail, the node may have missed writes that the
// other replicas acknowledged while it was out — including writes acknowledged after the node
// came back and finished its own start-up repair but before this proxy sent it writes again.
// So after a failure, a node that says "ready" is only `catchingUp` until it reports two more
// completed anti-entropy rounds than at that first ping: at least one whole round then began
// after this proxy resumed sending it writes, and pulled everything acknowledged before.

package enum NodeState: String, Sendable {
    /// `refused`: another line of the hosts file names the same node (HostsAliases.swift); the
    /// entry is never used until a reload of the hosts file makes it anew.
    case unknown, up, down, refused
}

package enum NodeReadiness: String, Sendable {
    case unknown, ready, recovering, catchingUp
}

/// What a node's /_/health says, as far as the proxy cares. A node sends exactly this (`json`)
/// to anyone who may not read its counters (OperatorAccess.swift), the proxy on another host
/// included; its full document holds the same fields among the rest. `json` and `parse` are
/// the one codec of this answer: a field the proxy starts reading is added to both.
package struct NodeReport: Sendable, Equatable {
    package var readiness: NodeReadiness
    /// Completed anti-entropy rounds, and peers it repairs with (0: nothing to catch up from).
    var syncRounds: UInt64
    package var peers: UInt64
    /// The node's wall clock when it answered (Unix ms), and the highest version it minted or
    /// accepted: nil from a node of an older release.
    package var wallClockMs: Int64?
    package var versionClock: UInt64?
    /// The node's id (NodeIdentity), when it reports one.
    package var nodeID: String?
    /// The membership generation the node serves (nil from an older release), whether it still
    /// hands data off, and the memberships it moves from (MembershipReport).
    package var generation: UInt64? = nil
    package var isMoving = false
    package var movingFrom: [Membership] = []
    /// The node's handoff for its current generation, if it had one since it started.
    package var handoff: HandoffProgress? = nil

    package init(readiness: NodeReadiness, syncRounds: UInt64 = 0, peers: UInt64 = 0,
                 wallClockMs: Int64? = nil, versionClock: UInt64? = nil, nodeID: String? = nil) {
        self.readiness = readiness
        self.syncRounds = syncRounds
        self.peers = peers
        self.wallClockMs = wallClockMs
        self.versionClock = versionClock
        self.nodeID = nodeID
    }

    /// Reads `"state"`, `"rounds"`, `"peers"`, `"wallClockMs"`, `"versionClock"` and `"node"`
    /// from a node's /_/health JSON.
    package static func parse(_ body: [UInt8]) -> NodeReport {
        let readiness: NodeReadiness = JSONScan.contains(body, "\"state\":\"recovering\"") ? .recovering : .ready
        let wallClockMs = JSONScan.number(body, key: "wallClockMs").flatMap { Int64(exactly: $0) }
        var report = NodeReport(readiness: readiness, syncRounds: JSONScan.number(body, key: "rounds") ?? 0,
                                peers: JSONScan.number(body, key: "peers") ?? 0,
                                wallClockMs: wallClockMs, versionClock: JSONScan.number(body, key: "versionClock"),
                                nodeID: JSONScan.string(body, key: "node", bytesMax: NodeIdentity.digits))
        report.generation = JSONScan.number(body, key: "generation")
        report.isMoving = JSONScan.contains(body, "\"moving\":true")
        report.movingFrom = JSONScan.string(body, key: "movingFrom", bytesMax: Limits.movingFromBytesMax)
            .flatMap(MembershipReport.decodePrevious) ?? []
        report.handoff = HandoffProgress.parse(body)
        return report
    }

    /// The short /_/health document:
    /// `{"state":…,"node":"ID","wallClockMs":N,"versionClock":V,"sync":{"peers":N,"rounds":N}}`
    /// (the node id too: a proxy on another host finds two lines that reach one node by it).
    package var json: [UInt8] {
        let clocks = (wallClockMs.map { ",\"wallClockMs\":\($0)" } ?? "") + (versionClock.map { ",\"versionClock\":\($0)" } ?? "")
        let id = nodeID.map { ",\"node\":\"\($0)\"" } ?? ""
        let state = readiness == .recovering ? "recovering" : "ready"
        let membership = generation.map {
            ",\"membership\":{\"generation\":\($0),\"moving\":\(isMoving),\"movingFrom\":\"\(MembershipReport.encodePrevious(movingFrom))\","
                + "\"handoff\":\(handoff?.json ?? "null")}"
        } ?? ""
        return Array("{\"state\":\"\(state)\"\(id)\(clocks),\"sync\":{\"peers\":\(peers),\"rounds\":\(syncRounds)}\(membership)}\n".utf8)
    }
}

/// A node's handoff after a membership change (the node's Handoff.swift), as /_/health says it.
package struct HandoffProgress: Sendable, Equatable {
    /// Keys the node holds, keys it has looked at, records and bytes it has sent, keys waiting.
    package var keys: UInt64 = 0
    package var scanned: UInt64 = 0
    package var sentRecords: UInt64 = 0
    package var sentBytes: UInt64 = 0
    package var waiting: UInt64 = 0
    package var recordsPerSecond: UInt64 = 0
    package var etaMs: UInt64 = 0
    package var elapsedMs: UInt64 = 0
    package var isDone = false

    package init() {}

    package var json: String {
        "{\"progress\":\"\(isDone ? "done" : "moving")\",\"keysHeld\":\(keys),\"keysScanned\":\(scanned),\"sentRecords\":\(sentRecords),"
            + "\"sentBytes\":\(sentBytes),\"keysWaiting\":\(waiting),\"recordsPerSecond\":\(recordsPerSecond),\"etaMs\":\(etaMs),"
            + "\"handoffMs\":\(elapsedMs)}"
    }

    /// The `"handoff":{…}` of a /_/health document, nil when it has none.
    package static func parse(_ body: [UInt8]) -> HandoffProgress? {
        guard JSONScan.contains(body, "\"handoff\":{") else { return nil }
        var progress = HandoffProgress()
        progress.isDone = JSONScan.contains(body, "\"progress\":\"done\"")
        progress.keys = JSONScan.number(body, key: "keysHeld") ?? 0
        progress.scanned = JSONScan.number(body, key: "keysScanned") ?? 0
        progress.sentRecords = JSONScan.number(body, key: "sentRecords") ?? 0
        progress.sentBytes = JSONScan.number(body, key: "sentBytes") ?? 0
        progress.waiting = JSONScan.number(body, key: "keysWaiting") ?? 0
        progress.recordsPerSecond = JSONScan.number(body, key: "recordsPerSecond") ?? 0
        progress.etaMs = JSONScan.number(body, key: "etaMs") ?? 0
        progress.elapsedMs = JSONScan.number(body, key: "handoffMs") ?? 0
        return progress
    }
}

package struct NodeHealth: Sendable {
    package let failuresToDown: Int
    package private(set) var state = NodeState.unknown
    package private(set) var readiness = NodeReadiness.unknown
    package private(set) var consecutiveFailures = 0
    package private(set) var lastPingMs: UInt64? = nil
    package private(set) var lastRoundTripMs: UInt64? = nil
    /// When the state last changed.
    package private(set) var sinceMs: UInt64 = 0
    /// A failure was seen since the node was last confirmed ready.
    private(set) var sawFailure = false
    /// While catching up: the rounds the node must report to count as ready.
    private(set) var readyAtRounds: UInt64? = nil
    /// A request to it is late and it has not answered since: other replicas first.
    package private(set) var isSuspect = false

    package init(failuresToDown: Int, nowMs: UInt64 = 0) {
        precondition(failuresToDown > 0)
        self.failuresToDown = failuresToDown
        sinceMs = nowMs
    }

    package var isUsable: Bool { state != .down && state != .refused }
    package var isReady: Bool { isUsable && readiness == .ready }
    /// Ready, and not suspected of being slow: where reads go first.
    package var isPreferred: Bool { isReady && !isSuspect }

    /// A request to the node is late.
    package mutating func suspect() {
        isSuspect = true
    }

    /// The node sent nothing for the silence limit while requests waited: down now. Returns
    /// true when the state changed.
    @discardableResult
    package mutating func recordSilence(nowMs: UInt64) -> Bool {
        consecutiveFailures = max(consecutiveFailures, failuresToDown)
        readiness = .unknown
        sawFailure = true
        readyAtRounds = nil
        return transition(to: .down, nowMs: nowMs)
    }

    /// A ping answered with the node's report. Returns true when state or readiness changed.
    @discardableResult
    package mutating func recordPing(nowMs: UInt64, roundTripMs: UInt64, report: NodeReport) -> Bool {
        var readiness = report.readiness
        if readiness == .ready && sawFailure && report.peers > 0 {
            let target = readyAtRounds ?? report.syncRounds + 2
            readyAtRounds = target
            readiness = report.syncRounds >= target ? .ready : .catchingUp
        }
        if readiness == .ready {
            sawFailure = false
            readyAtRounds = nil
        }
        return recordSuccess(nowMs: nowMs, roundTripMs: roundTripMs, readiness: readiness)
    }

    /// A request succeeded (readiness nil: unchanged) or said it is recovering.
    /// Returns true when the state changed.
    @discardableResult
    package mutating func recordSuccess(nowMs: UInt64, roundTripMs: UInt64? = nil, readiness: NodeReadiness? = nil) -> Bool {
        guard state != .refused else { return false }
        consecutiveFailures = 0
        isSuspect = false
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
    package mutating func recordFailure(nowMs: UInt64, isPing: Bool = false) -> Bool {
        guard state != .refused else { return false }
        consecutiveFailures += 1
        if isPing { lastPingMs = nowMs }
        readiness = .unknown
        sawFailure = true
        readyAtRounds = nil
        guard consecutiveFailures >= failuresToDown else { return false }
        return transition(to: .down, nowMs: nowMs)
    }

    /// Another entry of the hosts file names this node: the entry is refused for good (no
    /// answer brings it back). Returns true when the state changed.
    @discardableResult
    package mutating func refuse(nowMs: UInt64) -> Bool {
        readiness = .unknown
        return transition(to: .refused, nowMs: nowMs)
    }

    /// How long the node has been down, or nil when it is not.
    package func downForMs(nowMs: UInt64) -> UInt64? {
        state == .down ? nowMs - min(sinceMs, nowMs) : nil
    }

    private mutating func transition(to next: NodeState, nowMs: UInt64) -> Bool {
        guard state != next, state != .refused else { return false }
        state = next
        sinceMs = nowMs
        if next == .down {
            readiness = .unknown
            isSuspect = false
        }
        return true
    }
}
